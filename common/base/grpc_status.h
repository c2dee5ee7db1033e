// ToGrpcStatus: an absl::Status as the grpc::Status of the same code and
// message, the one conversion at every gRPC edge (absl's status codes and
// gRPC's are the same numbers); FromGrpcStatus the other way, for clients.
//
// Thread-safety: a pure function.
#ifndef AIMS_COMMON_BASE_GRPC_STATUS_H_
#define AIMS_COMMON_BASE_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace aims {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

}  // namespace aims

#endif  // AIMS_COMMON_BASE_GRPC_STATUS_H_
