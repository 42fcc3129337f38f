// Messages of the methods registered raw, which grpc++ hands over unparsed
// so that a request protobuf refuses gets a precise status (see
// directory/salvage.h).
#ifndef USERS_SERVICE_RAW_MESSAGES_H_
#define USERS_SERVICE_RAW_MESSAGES_H_

#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

namespace users {

// The buffer's bytes in one string.
std::string FlattenByteBuffer(const grpc::ByteBuffer& buffer);

// Parses `buffer` into `message`; false if protobuf refuses it.
bool ParseByteBuffer(const grpc::ByteBuffer& buffer,
                     google::protobuf::Message* message);

// Replaces `buffer`'s contents with `message` serialized.
grpc::Status SerializeToByteBuffer(const google::protobuf::Message& message,
                                   grpc::ByteBuffer* buffer);

}  // namespace users

#endif  // USERS_SERVICE_RAW_MESSAGES_H_
