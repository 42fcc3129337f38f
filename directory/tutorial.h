// The tutorial's ListUser, as plain C++: no gRPC, so it is unit-tested without
// a network.
#ifndef USERS_DIRECTORY_TUTORIAL_H_
#define USERS_DIRECTORY_TUTORIAL_H_

#include "service_protos/user.pb.h"

namespace users {

// Answers one Detail{id, value: name}. Throws NotFound("Sorry, id is not
// allowed 0") for id 0, exactly as the tutorial's server raises it.
void ListUser(const user::UserRequest& request, user::UserResponse* response);

}  // namespace users

#endif  // USERS_DIRECTORY_TUTORIAL_H_
