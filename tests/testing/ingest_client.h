// Test helper: sends window reports to a collector over real gRPC, as one
// agent's ingest stream does (hello, reports, wait for the durable ack).
#ifndef AIMS_TESTS_TESTING_INGEST_CLIENT_H_
#define AIMS_TESTS_TESTING_INGEST_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "aims/v1/identity.pb.h"
#include "aims/v1/ingest.pb.h"
#include "aims/v1/summary.pb.h"
#include "grpcpp/channel.h"

namespace aims::testing {

// Opens a stream to 127.0.0.1:`grpc_port` as agent `agent_id` (pod `pod`)
// of `model`, sends `summary` as report `sequence` for the window
// [end - 10 s, end), waits until it is acknowledged as durable and closes
// the stream. Returns false (with a gtest failure) on any error.
bool SendWindowReport(int grpc_port, const v1::ModelRef& model,
                      const std::string& agent_id, uint64_t sequence,
                      absl::Time end, const v1::WindowSummary& summary,
                      const std::string& pod = "");

// A simulated agent for crash and disk-full tests: reports get increasing
// sequences and stay in a local spool until the collector acknowledges them
// as durable; after a broken stream it reconnects and resends whatever the
// collector's Welcome does not cover, as the real agent does. Never adds
// gtest failures itself: callers assert on acked() and last_error().
//
// Thread-safety: one thread uses an instance; acked() may be read from
// others.
class SimulatedAgent {
 public:
  SimulatedAgent(int grpc_port, v1::ModelRef model, std::string agent_id);
  ~SimulatedAgent();

  // Queues the next report for [start, start + length); returns its
  // sequence.
  uint64_t Enqueue(absl::Time start, absl::Duration length,
                   const v1::WindowSummary& summary);
  // Sends every unacknowledged report and reads acknowledgements until all
  // are acknowledged or `timeout` passes, reconnecting after errors.
  // Returns true when the spool is empty.
  bool Flush(absl::Duration timeout);

  uint64_t acked() const { return acked_.load(); }
  uint64_t last_sequence() const { return next_sequence_ - 1; }
  // Durable sequence the collector announced in the last Welcome.
  uint64_t last_welcome() const { return last_welcome_; }
  // The last error a stream ended with (deadlines aside): "CODE: message".
  const std::string& last_error() const { return last_error_; }

 private:
  int grpc_port_;
  v1::ModelRef model_;
  std::string agent_id_;
  uint64_t next_sequence_ = 1;
  std::map<uint64_t, v1::IngestRequest> spool_;
  std::atomic<uint64_t> acked_{0};
  uint64_t last_welcome_ = 0;
  std::string last_error_;
  std::shared_ptr<grpc::Channel> channel_;  // one connection, many streams
};

}  // namespace aims::testing

#endif  // AIMS_TESTS_TESTING_INGEST_CLIENT_H_
