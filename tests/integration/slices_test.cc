// Slices with the real binaries on loopback: an agent started with
// --slice_keys=region folds per-region counts, the collector's evaluator
// raises a nonconformity for the one region whose accuracy fails while the
// model overall holds, and /v1/metrics and `aimsctl metrics` answer per
// slice value.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::RunCommand;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

// One batch: eu 900 events 95 % right, us 100 events 40 % right and, with
// `asia`, 10 asia events all wrong (sent once: below the slice's own
// minimum of 30 labels). Overall accuracy at least (855 + 40) / 1010.
std::string Batch(bool asia) {
  std::string body = "[";
  auto add = [&](const char* region, int n, int right_per_20) {
    for (int i = 0; i < n; ++i) {
      const int predicted = i % 2;
      const int label = i % 20 < right_per_20 ? predicted : 1 - predicted;
      if (body.size() > 1) body += ",";
      absl::StrAppend(&body, R"({"prediction":)", predicted, R"(,"label":)",
                      label, R"(,"attributes":{"region":")", region,
                      R"("},"features":{"age":)", 30 + i % 40, "}}");
    }
  };
  add("eu", 900, 19);
  add("us", 100, 8);
  if (asia) add("asia", 10, 0);
  return body + "]";
}

TEST(SlicesTest, OneFailingRegionRaisesOneNonconformity) {
  testing::TempDir dir;
  const int grpc_port = testing::FreePort();
  std::ofstream(dir.File("plan.yaml")) << R"(agent_window: 1s
coverage: {enabled: false}
defaults: {window: 5s, evaluation_interval: 1s, decision: interval}
objectives:
  - {id: accuracy, metric: accuracy, comparator: ">=", threshold: 0.8}
  - {id: accuracy-per-region, metric: accuracy, slice: region,
     comparator: ">=", threshold: 0.8}
)";
  Subprocess collector(
      {AIMS_COLLECTOR_BIN, absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port),
       "--http_listen=127.0.0.1:0", "--data_dir=" + dir.File("collector"),
       "--plan=" + dir.File("plan.yaml"),
       "--ports_file=" + dir.File("collector.ports")},
      dir.File("collector.log"));
  const int collector_http = WaitForPort(dir.File("collector.ports"), "http");
  ASSERT_NE(collector_http, 0) << testing::ReadFile(dir.File("collector.log"));
  Subprocess agent({AIMS_AGENT_BIN, "--model_name=credit", "--model_version=v1",
                    "--environment=it", "--agent_id=pod-a",
                    absl::StrCat("--collector=127.0.0.1:", grpc_port),
                    "--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0",
                    "--window=1s", "--reference_events=0",
                    "--slice_keys=region", "--data_dir=" + dir.File("agent"),
                    "--ports_file=" + dir.File("agent.ports")},
                   dir.File("agent.log"));
  const int agent_http = WaitForPort(dir.File("agent.ports"), "http");
  ASSERT_NE(agent_http, 0) << testing::ReadFile(dir.File("agent.log"));

  // Traffic every 250 ms, so that every window of the agent reports.
  std::atomic<bool> posting{true};
  std::thread traffic([&] {
    httplib::Client http("127.0.0.1", agent_http);
    const std::string body = Batch(false);
    for (bool first = true; posting; first = false) {
      auto res = http.Post("/v1/events", first ? Batch(true) : body,
                           "application/json");
      EXPECT_TRUE(res && res->status == 200);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  httplib::Client api("127.0.0.1", collector_http);
  std::string ncs;
  const bool raised = WaitFor(
      [&] {
        auto res = api.Get("/v1/nonconformities");
        if (!res || res->status != 200) return false;
        ncs = res->body;
        return absl::StrContains(ncs, "accuracy-per-region");
      },
      absl::Seconds(30));
  // A few more evaluations: nothing else may fire.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  posting = false;
  traffic.join();
  ASSERT_TRUE(raised) << testing::ReadFile(dir.File("collector.log"));
  ncs = api.Get("/v1/nonconformities")->body;
  EXPECT_TRUE(absl::StrContains(ncs, "credit/v1/it slice=region=us")) << ncs;
  EXPECT_FALSE(absl::StrContains(ncs, "region=eu")) << ncs;
  EXPECT_FALSE(absl::StrContains(ncs, "region=asia")) << ncs;
  EXPECT_FALSE(absl::StrContains(ncs, R"("objective_id":"accuracy")")) << ncs;

  // The per-slice values in answers: asia lacks evidence, us has its own.
  auto metrics = api.Get(
      "/v1/metrics?name=credit&version=v1&environment=it"
      "&metric=accuracy");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_TRUE(absl::StrContains(metrics->body, R"("slice":"region=us")"))
      << metrics->body;
  EXPECT_TRUE(absl::StrContains(metrics->body, R"("slice":"region=asia")"));
  std::string out, err;
  ASSERT_EQ(RunCommand({AIMS_CTL_BIN,
                        absl::StrCat("--collector=127.0.0.1:", grpc_port),
                        "metrics", "--model=credit", "--version=v1",
                        "--environment=it", "--since=1m", "--metric=accuracy"},
                       &out, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "slice region=us")) << out;
  EXPECT_TRUE(absl::StrContains(out, "slice region=asia")) << out;
  // --slice keeps one value, or only the whole model's.
  auto ctl_metrics = [&](const std::string& slice) {
    std::string o, e;
    EXPECT_EQ(
        RunCommand(
            {AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port),
             "metrics", "--model=credit", "--version=v1", "--environment=it",
             "--since=1m", "--metric=accuracy", "--slice=" + slice},
            &o, &e),
        0)
        << e;
    return o;
  };
  out = ctl_metrics("region=us");
  EXPECT_TRUE(absl::StrContains(out, "slice region=us")) << out;
  EXPECT_FALSE(absl::StrContains(out, "slice region=eu")) << out;
  // One row: not the whole model's (SCOPE "-").
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  out = ctl_metrics("none");
  EXPECT_FALSE(absl::StrContains(out, "slice")) << out;
  EXPECT_TRUE(absl::StrContains(out, "accuracy  -")) << out;
}

}  // namespace
}  // namespace aims
