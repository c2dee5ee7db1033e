// SplitReport: a window report too large for one message as parts that the
// collector reassembles (WindowReport.part_index / part_count). Part 0
// keeps everything but features, attributes, join records and forwarded
// labels, which are spread over the parts in their order, each part about
// `max_bytes` at most. The agent's sender and aimsctl backfill use it.
//
// Thread-safety: a pure function.
#ifndef AIMS_COMMON_SUMMARY_REPORT_PARTS_H_
#define AIMS_COMMON_SUMMARY_REPORT_PARTS_H_

#include <cstddef>
#include <vector>

#include "aims/v1/ingest.pb.h"

namespace aims {

// One element (the report itself) when it fits in `max_bytes`.
std::vector<v1::WindowReport> SplitReport(const v1::WindowReport& report,
                                          size_t max_bytes);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_REPORT_PARTS_H_
