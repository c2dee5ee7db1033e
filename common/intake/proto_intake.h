// The gRPC intake's batch handling shared by the agent's
// AgentIntakeService and the collector's LabelService, so that both answer
// the same batch with the same per-item errors and warnings: the batch
// size check (an empty batch refused, too many items a LimitError naming
// the flag), wire labels converted and validated item by item, unknown
// fields listed as warnings, and the SubmitResponse.
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_INTAKE_PROTO_INTAKE_H_
#define AIMS_COMMON_INTAKE_PROTO_INTAKE_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "aims/v1/event.pb.h"
#include "common/summary/event.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace aims {

// INVALID_ARGUMENT "<what>: an empty batch; send at least one item" for 0
// items; a LimitError naming `flag` for more than `max_items`; else OK.
absl::Status CheckBatchSize(absl::string_view what, size_t items,
                            size_t max_items, absl::string_view flag);

// Lists the fields of `item` that the proto does not know (a newer
// client's) as warnings of item `index` ("#<field number>"); counts them
// all in `*count`, lists at most kMaxWarnings.
void NoteUnknownFields(const google::protobuf::Message& item, size_t index,
                       std::vector<EventError>* warnings, size_t* count);

// Wire labels converted and validated (LabelFromProto): refused ones in
// errors, unknown fields in warnings, both by position.
LabelBatch LabelBatchFromProto(
    const google::protobuf::RepeatedPtrField<v1::LabelEvent>& labels,
    const EventLimits& limits);

// The answer to a batch, over gRPC and (printed as JSON) over HTTP: counts
// complete, at most kMaxWarnings errors and warnings listed.
void FillSubmitResponse(size_t accepted, const std::vector<EventError>& errors,
                        const std::vector<EventError>& warnings,
                        v1::SubmitResponse* response);

}  // namespace aims

#endif  // AIMS_COMMON_INTAKE_PROTO_INTAKE_H_
