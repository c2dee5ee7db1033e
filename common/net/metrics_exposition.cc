#include "common/net/metrics_exposition.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "prometheus/text_serializer.h"

#ifndef AIMS_VERSION
#define AIMS_VERSION "unknown"
#endif
#ifndef AIMS_REVISION
#define AIMS_REVISION "unknown"
#endif

namespace aims {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help,
                                prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return {name, help, type, {metric}};
}

// The fields of /proc/self/stat after the command name (which may hold
// spaces), so that field N of proc(5) is at index N - 3.
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::string stat = text.str();
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  return absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
}

// Boot time (Unix seconds) from /proc/stat's btime line; 0 if unreadable.
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    double btime = 0;
    if (absl::ConsumePrefix(&rest, "btime ") &&
        absl::SimpleAtod(rest, &btime)) {
      return btime;
    }
  }
  return 0;
}

// Entries of /proc/self/fd, less the one this listing opens; -1 if
// unreadable.
int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;
}

}  // namespace

const char* BuildVersion() { return AIMS_VERSION; }
const char* BuildRevision() { return AIMS_REVISION; }

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  prometheus::ClientMetric build;
  build.gauge.value = 1;
  build.label = {{"revision", BuildRevision()}, {"version", BuildVersion()}};
  out.push_back({"aims_build_info",
                 "Always 1; the labels say which build of aims runs.",
                 MetricType::Gauge,
                 {build}});

  const std::vector<std::string> stat = StatFields();
  double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
  if (stat.size() < 22 || !absl::SimpleAtod(stat[11], &utime) ||
      !absl::SimpleAtod(stat[12], &stime) ||
      !absl::SimpleAtod(stat[19], &start) ||
      !absl::SimpleAtod(stat[20], &vsize) ||
      !absl::SimpleAtod(stat[21], &rss)) {
    return out;
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  out.push_back(Family("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.",
                       MetricType::Counter, (utime + stime) / ticks));
  out.push_back(Family("process_resident_memory_bytes",
                       "Resident memory size in bytes.", MetricType::Gauge,
                       rss * static_cast<double>(sysconf(_SC_PAGESIZE))));
  out.push_back(Family("process_virtual_memory_bytes",
                       "Virtual memory size in bytes.", MetricType::Gauge,
                       vsize));
  out.push_back(Family("process_start_time_seconds",
                       "Start time of the process since unix epoch in "
                       "seconds.",
                       MetricType::Gauge, BootTime() + start / ticks));
  if (const int fds = OpenFds(); fds >= 0) {
    out.push_back(Family("process_open_fds", "Number of open file descriptors.",
                         MetricType::Gauge, fds));
  }
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(Family(
        "process_max_fds", "Maximum number of open file descriptors.",
        MetricType::Gauge,
        limit.rlim_cur == RLIM_INFINITY ? -1
                                        : static_cast<double>(limit.rlim_cur)));
  }
  return out;
}

void AddLabels(const MetricLabels& labels,
               std::vector<prometheus::MetricFamily>& families) {
  for (prometheus::MetricFamily& family : families) {
    for (prometheus::ClientMetric& metric : family.metric) {
      for (const auto& [name, value] : labels) {
        metric.label.push_back({name, value});
      }
    }
  }
}

std::string Exposition(const prometheus::Registry& registry,
                       const MetricLabels& labels,
                       std::vector<prometheus::MetricFamily> extra) {
  std::vector<prometheus::MetricFamily> families = registry.Collect();
  AddLabels(labels, families);
  for (prometheus::MetricFamily& f : extra) families.push_back(std::move(f));
  for (prometheus::MetricFamily& f : ProcessCollector().Collect()) {
    families.push_back(std::move(f));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace aims
