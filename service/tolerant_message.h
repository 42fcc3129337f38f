// A typed request that grpc++ hands to its handler even when protobuf refuses
// the bytes, so the handler can answer INVALID_ARGUMENT like every raw method
// does. A typed callback handler whose request fails to parse is never
// called: grpc++ 1.51 answers UNIMPLEMENTED with an empty message instead.
//
// Used for the two hot typed reads (ListUser, GetUser), which keep grpc++'s
// typed path and its recycled messages: the parse is the same one grpc++
// would make, so a well-formed call costs nothing more.
#ifndef USERS_SERVICE_TOLERANT_MESSAGE_H_
#define USERS_SERVICE_TOLERANT_MESSAGE_H_

#include <grpcpp/impl/codegen/serialization_traits.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/status.h>

namespace users {

template <typename Message>
struct Tolerant {
  Message message;
  bool parsed = false;  // false: the bytes were no valid Message

  void Clear() {
    message.Clear();
    parsed = false;
  }
};

}  // namespace users

namespace grpc {

template <typename Message>
class SerializationTraits<users::Tolerant<Message>, void> {
 public:
  // Never fails: a refused message is recorded in `parsed`.
  static Status Deserialize(ByteBuffer* buffer,
                            users::Tolerant<Message>* request) {
    request->parsed = false;
    if (buffer != nullptr) {
      {
        ProtoBufferReader reader(buffer);
        request->parsed = reader.status().ok() &&
                          request->message.ParseFromZeroCopyStream(&reader);
      }
      buffer->Clear();  // as grpc++'s own deserializer does: it owns it now
    }
    return Status::OK;
  }
  static Status Serialize(const users::Tolerant<Message>& request,
                          ByteBuffer* buffer, bool* own_buffer) {
    return SerializationTraits<Message>::Serialize(request.message, buffer,
                                                   own_buffer);
  }
};

}  // namespace grpc

#endif  // USERS_SERVICE_TOLERANT_MESSAGE_H_
