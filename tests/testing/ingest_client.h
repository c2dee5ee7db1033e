// Test helper: sends window reports to a collector over real gRPC, as one
// agent's ingest stream does (hello, reports, wait for the durable ack).
#ifndef AIMS_TESTS_TESTING_INGEST_CLIENT_H_
#define AIMS_TESTS_TESTING_INGEST_CLIENT_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "aims/v1/identity.pb.h"
#include "aims/v1/summary.pb.h"

namespace aims::testing {

// Opens a stream to 127.0.0.1:`grpc_port` as agent `agent_id` (pod `pod`)
// of `model`, sends `summary` as report `sequence` for the window
// [end - 10 s, end), waits until it is acknowledged as durable and closes
// the stream. Returns false (with a gtest failure) on any error.
bool SendWindowReport(int grpc_port, const v1::ModelRef& model,
                      const std::string& agent_id, uint64_t sequence,
                      absl::Time end, const v1::WindowSummary& summary,
                      const std::string& pod = "");

}  // namespace aims::testing

#endif  // AIMS_TESTS_TESTING_INGEST_CLIENT_H_
