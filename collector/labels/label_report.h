// Label reports: the summary of the delayed labels the central join credited
// to one window (collector/labels/label_join.h), folded from the window's
// join records with the accumulator's fold (WindowAccumulator::
// AddJoinedLabel), so that it merges with the agents' reports of the window
// like one more replica that counted only labels. A label is late
// (labels_late) when it became known after the window ended.
//
// The fold needs the task: the model version's reference profile gives it
// (task, positive class, score bins). Without a profile it follows from the
// records: regression when a prediction is a non-integral number, binary
// (positive class "1") when every class is "0" or "1", multiclass otherwise.
//
// Thread-safety: stateless functions.
#ifndef AIMS_COLLECTOR_LABELS_LABEL_REPORT_H_
#define AIMS_COLLECTOR_LABELS_LABEL_REPORT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "aims/v1/profile.pb.h"
#include "aims/v1/storage.pb.h"
#include "aims/v1/summary.pb.h"

namespace aims::collector {

// Folds the labelled records of one window (records without a label count
// only in `evicted`, when the caller passes their number) into the summary
// of its label report. `profile` may be null.
v1::WindowSummary FoldLabelReport(
    const std::vector<const v1::JoinRecord*>& labelled,
    const std::vector<const v1::JoinRecord*>& all,
    std::shared_ptr<const v1::ReferenceProfile> profile, uint64_t evicted);

// When the record's label became known: its timestamp, else its arrival.
absl::Time LabelTime(const v1::JoinRecord& record);

// Whether two outcomes are the same class or number.
bool SameOutcome(const v1::Outcome& a, const v1::Outcome& b);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_LABELS_LABEL_REPORT_H_
