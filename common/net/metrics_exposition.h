// What an aims binary's /metrics serves: its registry's series and, as the
// Prometheus client libraries of other languages do,
//
//   process_cpu_seconds_total, process_resident_memory_bytes,
//   process_virtual_memory_bytes, process_open_fds, process_max_fds,
//   process_start_time_seconds   read from /proc/self at each Collect();
//   aims_build_info{version, revision}   always 1.
//
// HttpServer::ServeMetrics serves Exposition(). Off Linux (no /proc/self)
// the process_* families are left out.
//
// Thread-safety: Collect() only reads /proc and constants; any thread.
#ifndef AIMS_COMMON_NET_METRICS_EXPOSITION_H_
#define AIMS_COMMON_NET_METRICS_EXPOSITION_H_

#include <string>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace aims {

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// The version of the build (CMake's project version) and its git revision
// at configure time ("unknown" outside a git checkout).
const char* BuildVersion();
const char* BuildRevision();

// Series labels, e.g. an agent's {model, model_version, environment}.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Adds `labels` to every series of `families`, after the series' own.
void AddLabels(const MetricLabels& labels,
               std::vector<prometheus::MetricFamily>& families);

// The text format 0.0.4 of `registry`'s families with `labels` added, then
// `extra`'s families, then ProcessCollector's.
std::string Exposition(const prometheus::Registry& registry,
                       const MetricLabels& labels,
                       std::vector<prometheus::MetricFamily> extra);

}  // namespace aims

#endif  // AIMS_COMMON_NET_METRICS_EXPOSITION_H_
