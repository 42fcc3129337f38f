#include "directory/tutorial.h"

#include "errors/errors.h"

namespace users {

void ListUser(const user::UserRequest& request, user::UserResponse* response) {
  if (request.id() == 0) {
    // Thrown, not returned, on purpose: this is the tutorial's way (raise
    // NotFound and let the boundary map it), kept to show that it works.
    throw NotFound("Sorry, id is not allowed 0");
  }
  auto* detail = response->add_details();
  detail->set_id(request.id());
  detail->set_value(request.name());
}

}  // namespace users
