// Shared parts of collector_bench (see collector_bench.cc for the modes):
// its flags, the simulated model and summaries, CPU and memory readings.
// Not part of the product or the suite.
#ifndef AIMS_TESTS_BENCH_COLLECTOR_BENCH_H_
#define AIMS_TESTS_BENCH_COLLECTOR_BENCH_H_

// Prints one JSON object per result line on stdout.
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/evaluator.h"
#include "collector/notify/notifier.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/clock.h"
#include "common/base/time_util.h"
#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "httplib.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/test_util.h"

ABSL_DECLARE_FLAG(std::string, mode);
ABSL_DECLARE_FLAG(int, agents);
ABSL_DECLARE_FLAG(int, in_flight);
ABSL_DECLARE_FLAG(int, seconds);
ABSL_DECLARE_FLAG(int64_t, reports);
ABSL_DECLARE_FLAG(std::string, name);
ABSL_DECLARE_FLAG(int, models);
ABSL_DECLARE_FLAG(int, objectives);
ABSL_DECLARE_FLAG(int, trials);
ABSL_DECLARE_FLAG(std::string, alertmanager_bin);
ABSL_DECLARE_FLAG(int, replicas);
ABSL_DECLARE_FLAG(int, queries);
ABSL_DECLARE_FLAG(int, query_threads);
ABSL_DECLARE_FLAG(std::string, dir);
ABSL_DECLARE_FLAG(int, collectors);
ABSL_DECLARE_FLAG(std::string, etcd_bin);
ABSL_DECLARE_FLAG(std::string, collector_bin);
ABSL_DECLARE_FLAG(std::string, lease_ttl);

namespace aims::bench {

v1::ModelRef Model(int i = 0);
// 100 numeric features on an 18-quantile profile (20 bins with under- and
// overflow), binary scores and labels, one sensitive attribute.
std::vector<v1::WindowSummary> SummaryPool(int n, size_t* bytes);
void PrintJson(const std::string& name,
               const std::vector<std::pair<std::string, double>>& fields);
uint64_t CountNumbers(const google::protobuf::Message& m);
double ThreadsCpuSeconds(std::vector<std::thread>& threads);
double RssMiB();
double ProcessCpuSeconds();
grpc::ByteBuffer EncodedIngestRequest(const std::string& agent_id,
                                      uint64_t sequence, absl::Time start,
                                      const std::string& summary);

// What DriveAgents measured.
struct LoadResult {
  uint64_t reports = 0;      // acknowledged while measuring
  uint64_t acked_total = 0;  // acknowledged in all
  double seconds = 0;
  double process_cpu = 0;  // this process's CPU seconds while measuring
  double client_cpu = 0;   // of which the simulated agents' threads
  double rss_mib = 0;
};
// `agents` simulated agents on 16 threads, agent i of model Model(i / 10)
// streaming to `target(i)` with up to `in_flight` reports unacknowledged,
// windows from `base` on: warms up until every agent is acknowledged, then
// measures for --seconds (or until --reports more are acknowledged).
// Aborts on a rejection.
LoadResult DriveAgents(int agents, int in_flight,
                       const std::function<std::string(int)>& target,
                       const std::vector<std::string>& encoded_pool,
                       absl::Time base);
// Whether the collector at `address` lists at least `acked` reports stored
// and no duplicate (printed when not).
bool StoredOnce(const std::string& address, uint64_t acked);

int Ingest(const std::string& dir);
int Fleet(const std::string& dir);
int Query(const std::string& dir);
int Evaluate(const std::string& dir);
int Alert(const std::string& dir);

}  // namespace aims::bench

#endif  // AIMS_TESTS_BENCH_COLLECTOR_BENCH_H_
