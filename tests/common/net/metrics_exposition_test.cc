// The process_* series read /proc/self: they move with what the process
// does (CPU burnt, files opened), and the exposition adds labels to the
// registry's series only.
#include "common/net/metrics_exposition.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"

namespace aims {
namespace {

std::map<std::string, double> Values() {
  std::map<std::string, double> out;
  for (const prometheus::MetricFamily& f : ProcessCollector().Collect()) {
    const prometheus::ClientMetric& m = f.metric.at(0);
    out[f.name] = f.type == prometheus::MetricType::Counter ? m.counter.value
                                                            : m.gauge.value;
  }
  return out;
}

TEST(ProcessCollectorTest, FollowsTheProcess) {
  std::map<std::string, double> before = Values();
  for (const char* name :
       {"aims_build_info", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "process_virtual_memory_bytes",
        "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_EQ(before.count(name), 1u) << name;
  }
  EXPECT_EQ(before["aims_build_info"], 1);
  EXPECT_GT(before["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(before["process_virtual_memory_bytes"],
            before["process_resident_memory_bytes"]);
  EXPECT_GE(before["process_max_fds"], before["process_open_fds"]);
  const double now = absl::ToUnixSeconds(absl::Now());
  EXPECT_LE(before["process_start_time_seconds"], now + 1);
  EXPECT_GT(before["process_start_time_seconds"], now - 3600);

  const int fd = open("/proc/self/stat", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Values()["process_open_fds"], before["process_open_fds"] + 1);
  close(fd);

  // Burn CPU until the kernel's tick-granular counter moves (at most 2 s).
  const auto start = std::chrono::steady_clock::now();
  volatile double sink = 0;
  while (Values()["process_cpu_seconds_total"] <=
             before["process_cpu_seconds_total"] &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(2)) {
    for (int i = 0; i < 1000000; ++i) sink = sink + i;
  }
  EXPECT_GT(Values()["process_cpu_seconds_total"],
            before["process_cpu_seconds_total"]);
}

TEST(ExpositionTest, LabelsTheRegistrysSeriesOnly) {
  prometheus::Registry registry;
  prometheus::BuildCounter()
      .Name("aims_agent_things_total")
      .Help("Things.")
      .Register(registry)
      .Add({{"outcome", "ok"}})
      .Increment(2);
  const std::string text =
      Exposition(registry, {{"model", "credit"}, {"model_version", "v1"}}, {});
  EXPECT_NE(
      text.find(
          R"(aims_agent_things_total{outcome="ok",model="credit",model_version="v1"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos) << text;
  EXPECT_NE(text.find("aims_build_info{revision=\""), std::string::npos)
      << text;
  EXPECT_EQ(text.find("process_open_fds{"), std::string::npos) << text;
}

}  // namespace
}  // namespace aims
