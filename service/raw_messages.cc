#include "service/raw_messages.h"

#include <vector>

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>

namespace users {

std::string FlattenByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

bool ParseByteBuffer(const grpc::ByteBuffer& buffer,
                     google::protobuf::Message* message) {
  // Reading leaves the buffer as it was: the reader only wants a non-const
  // pointer. (A copy would cost an allocation a call.)
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&buffer));
  return reader.status().ok() && message->ParseFromZeroCopyStream(&reader);
}

grpc::Status SerializeToByteBuffer(const google::protobuf::Message& message,
                                   grpc::ByteBuffer* buffer) {
  grpc::ByteBuffer serialized;
  bool own_buffer = false;
  grpc::Status status =
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(
          message, &serialized, &own_buffer);
  if (status.ok()) buffer->Swap(&serialized);
  return status;
}

}  // namespace users
