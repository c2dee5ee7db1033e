#include "common/summary/summary_merge.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/summary/quantile_sketch.h"

namespace aims {
namespace {

absl::Status AddCounts(v1::BinnedCounts* into, const v1::BinnedCounts& from,
                       absl::string_view field) {
  if (from.counts_size() == 0) return absl::OkStatus();
  if (into->counts_size() == 0) {
    *into = from;
    return absl::OkStatus();
  }
  if (into->counts_size() != from.counts_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": histograms of one profile differ in length (",
                     into->counts_size(), " vs ", from.counts_size(), ")"));
  }
  uint64_t* __restrict sum = into->mutable_counts()->mutable_data();
  const uint64_t* __restrict add = from.counts().data();
  for (int i = 0; i < from.counts_size(); ++i) sum[i] += add[i];
  return absl::OkStatus();
}

void MergeConfusion(v1::ConfusionMatrix* into,
                    const v1::ConfusionMatrix& from) {
  if (from.classes_size() == 0) return;
  std::map<std::string, std::map<std::string, uint64_t>> cells;
  for (const v1::ConfusionMatrix* m :
       {static_cast<const v1::ConfusionMatrix*>(into), &from}) {
    const int k = m->classes_size();
    for (int a = 0; a < k; ++a) {
      auto& row = cells[m->classes(a)];
      for (int p = 0; p < k; ++p) {
        const int i = a * k + p;
        if (i < m->counts_size()) row[m->classes(p)] += m->counts(i);
      }
    }
  }
  v1::ConfusionMatrix out;
  for (const auto& [cls, row] : cells) out.add_classes(cls);
  for (const auto& [actual, unused] : cells) {
    const auto& row = cells[actual];
    for (const std::string& predicted : out.classes()) {
      auto it = row.find(predicted);
      out.add_counts(it == row.end() ? 0 : it->second);
    }
  }
  *into = std::move(out);
}

template <typename T>
void AddField(T* into, const T& from) {
  // Adds every numeric field of a flat message of sums and counts.
  const auto* desc = T::descriptor();
  const auto* refl = T::GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const auto* f = desc->field(i);
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        refl->SetUInt64(into, f,
                        refl->GetUInt64(*into, f) + refl->GetUInt64(from, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE:
        refl->SetDouble(into, f,
                        refl->GetDouble(*into, f) + refl->GetDouble(from, f));
        break;
      default:
        break;
    }
  }
}

// Parts of MergeInto, one per part of a summary. Each merges `from`'s part
// into `into`'s; `histograms` is false when the two have different profiles
// (binned histograms are then dropped).

absl::Status MergeOperational(v1::OperationalSummary* op,
                              const v1::OperationalSummary& fop) {
  op->set_event_count(op->event_count() + fop.event_count());
  op->set_error_count(op->error_count() + fop.error_count());
  op->set_labels_matched(op->labels_matched() + fop.labels_matched());
  op->set_labels_late(op->labels_late() + fop.labels_late());
  op->set_labels_unmatched(op->labels_unmatched() + fop.labels_unmatched());
  op->set_labels_evicted(op->labels_evicted() + fop.labels_evicted());
  op->set_backfilled_events(op->backfilled_events() + fop.backfilled_events());
  op->set_labels_awaited(op->labels_awaited() + fop.labels_awaited());
  op->set_late_events(op->late_events() + fop.late_events());
  op->set_labelable_count(op->labelable_count() + fop.labelable_count());
  if (absl::Status s = fop.has_latency_seconds()
                           ? MergeSketchProto(op->mutable_latency_seconds(),
                                              fop.latency_seconds())
                           : absl::OkStatus();
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("operational.latency_seconds: ", s.message()));
  }
  if (absl::Status s = fop.has_label_delay_seconds()
                           ? MergeSketchProto(op->mutable_label_delay_seconds(),
                                              fop.label_delay_seconds())
                           : absl::OkStatus();
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("operational.label_delay_seconds: ", s.message()));
  }
  for (const auto& [reason, n] : fop.rejected_by_reason()) {
    (*op->mutable_rejected_by_reason())[reason] += n;
  }
  return absl::OkStatus();
}

absl::Status MergePerformance(v1::PerformanceSummary* perf,
                              const v1::PerformanceSummary& fperf,
                              bool histograms) {
  perf->set_labelled_count(perf->labelled_count() + fperf.labelled_count());
  // Sub-messages are touched only when `from` has them, so that merging
  // never adds empty parts (merge results compare equal in any order).
  if (fperf.has_confusion()) {
    MergeConfusion(perf->mutable_confusion(), fperf.confusion());
  }
  if (fperf.has_probability()) {
    AddField(perf->mutable_probability(), fperf.probability());
  }
  if (fperf.has_regression()) {
    AddField(perf->mutable_regression(), fperf.regression());
  }
  if (!histograms) {
    perf->clear_score_by_label();
    return absl::OkStatus();
  }
  if (perf->score_by_label_size() == 0) {
    *perf->mutable_score_by_label() = fperf.score_by_label();
  } else if (fperf.score_by_label_size() > 0) {
    if (fperf.score_by_label_size() != perf->score_by_label_size()) {
      return absl::InvalidArgumentError(
          "performance.score_by_label: label count differs");
    }
    for (int i = 0; i < fperf.score_by_label_size(); ++i) {
      if (absl::Status s =
              AddCounts(perf->mutable_score_by_label(i),
                        fperf.score_by_label(i), "performance.score_by_label");
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

// One feature present in both summaries.
absl::Status MergeFeature(v1::FeatureSummary* m, const v1::FeatureSummary& f,
                          bool histograms) {
  if (f.has_quality()) AddField(m->mutable_quality(), f.quality());
  if (histograms && f.has_histogram()) {
    if (absl::Status s =
            AddCounts(m->mutable_histogram(), f.histogram(),
                      absl::StrCat("features.", f.name(), ".histogram"));
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = f.has_sketch()
                           ? MergeSketchProto(m->mutable_sketch(), f.sketch())
                           : absl::OkStatus();
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("features.", f.name(), ".sketch: ", s.message()));
  }
  m->set_n(m->n() + f.n());
  m->set_sum(m->sum() + f.sum());
  m->set_sum_squares(m->sum_squares() + f.sum_squares());
  return absl::OkStatus();
}

// Features by name. `events_before` and `from_events` are the events of the
// summaries merged so far and of `from`: a feature one side lacks was
// missing in all of that side's events.
absl::Status MergeFeatures(v1::WindowSummary* into,
                           const v1::WindowSummary& from, bool histograms,
                           uint64_t events_before, uint64_t from_events) {
  // Fast path: the same features in the same (sorted) order, as summaries
  // of one model nearly always have.
  bool aligned = into->features_size() == from.features_size();
  for (int i = 0; aligned && i < from.features_size(); ++i) {
    aligned = into->features(i).name() == from.features(i).name();
  }
  if (aligned) {
    for (int i = 0; i < from.features_size(); ++i) {
      v1::FeatureSummary& m = *into->mutable_features(i);
      if (absl::Status s = MergeFeature(&m, from.features(i), histograms);
          !s.ok()) {
        return s;
      }
      if (!histograms) m.clear_histogram();
    }
    return absl::OkStatus();
  }
  std::map<std::string, v1::FeatureSummary> features;
  for (v1::FeatureSummary& f : *into->mutable_features()) {
    features[f.name()] = std::move(f);
  }
  for (const v1::FeatureSummary& f : from.features()) {
    auto [it, inserted] = features.try_emplace(f.name(), f);
    if (!inserted) {
      if (absl::Status s = MergeFeature(&it->second, f, histograms); !s.ok())
        return s;
    } else {
      it->second.mutable_quality()->set_missing(it->second.quality().missing() +
                                                events_before);
    }
    if (!histograms) it->second.clear_histogram();
  }
  absl::flat_hash_set<absl::string_view> from_features;
  for (const v1::FeatureSummary& f : from.features()) {
    from_features.insert(f.name());
  }
  for (auto& [name, f] : features) {
    if (!from_features.contains(name)) {
      f.mutable_quality()->set_missing(f.quality().missing() + from_events);
    }
    if (!histograms) f.clear_histogram();
  }
  into->clear_features();
  for (auto& [name, f] : features) *into->add_features() = std::move(f);
  return absl::OkStatus();
}

// Attributes and groups by name; an attribute one side lacks was missing in
// all of that side's events (see MergeFeatures).
void MergeAttributes(v1::WindowSummary* into, const v1::WindowSummary& from,
                     uint64_t events_before, uint64_t from_events) {
  std::map<std::string, std::map<std::string, v1::GroupCounts>> attrs;
  std::map<std::string, uint64_t> missing;
  // `missing_before`: the events an attribute first seen in `s` was missing
  // in.
  auto take = [&](const v1::WindowSummary& s, uint64_t missing_before) {
    for (const v1::AttributeSummary& a : s.attributes()) {
      auto [mit, fresh] = missing.try_emplace(a.attribute(), missing_before);
      mit->second += a.missing();
      auto& groups = attrs[a.attribute()];
      for (const v1::GroupCounts& g : a.groups()) {
        auto [git, inserted] = groups.try_emplace(g.group(), g);
        if (!inserted) AddField(&git->second, g);
      }
    }
  };
  take(*into, 0);
  take(from, events_before);
  absl::flat_hash_set<absl::string_view> from_attributes;
  for (const v1::AttributeSummary& a : from.attributes()) {
    from_attributes.insert(a.attribute());
  }
  for (auto& [name, count] : missing) {
    if (!from_attributes.contains(name)) count += from_events;
  }
  into->clear_attributes();
  for (auto& [name, groups] : attrs) {
    v1::AttributeSummary* a = into->add_attributes();
    a->set_attribute(name);
    a->set_missing(missing[name]);
    for (auto& [g, counts] : groups) *a->add_groups() = std::move(counts);
  }
}

absl::Status MergeInto(v1::WindowSummary* into, const v1::WindowSummary& from,
                       bool histograms);

// Keeps the `bound` values with the most events (ties: by name) and merges
// the rest into "__other__", so that merging windows whose top values
// differ stays bounded; every event stays counted.
absl::Status BoundSliceValues(std::map<std::string, v1::WindowSummary>* values,
                              size_t bound) {
  constexpr absl::string_view kOther = "__other__";
  if (bound == 0 || values->size() <= bound) return absl::OkStatus();
  std::vector<std::pair<uint64_t, std::string>> named;
  for (const auto& [value, s] : *values) {
    if (value != kOther)
      named.emplace_back(s.operational().event_count(), value);
  }
  if (named.size() <= bound) return absl::OkStatus();
  std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (size_t i = bound; i < named.size(); ++i) {
    auto it = values->find(named[i].second);
    auto [other, fresh] =
        values->try_emplace(std::string(kOther), std::move(it->second));
    if (!fresh) {
      v1::WindowSummary& into = other->second;
      const bool same = into.profile_id() == it->second.profile_id();
      if (!same) into.set_profile_id(std::string(kMixedProfiles));
      if (absl::Status s = MergeInto(&into, it->second, same); !s.ok()) {
        return s;
      }
    }
    values->erase(it);
  }
  return absl::OkStatus();
}

// Slice keys and values by name; a key one side lacks was missing in all of
// that side's events (see MergeAttributes).
absl::Status MergeSlices(v1::WindowSummary* into, const v1::WindowSummary& from,
                         uint64_t events_before, uint64_t from_events) {
  if (into->slices_size() == 0 && from.slices_size() == 0) {
    return absl::OkStatus();
  }
  struct Key {
    uint64_t missing = 0;
    uint32_t max_values = 0;
    std::map<std::string, v1::WindowSummary> values;
  };
  std::map<std::string, Key> keys;
  absl::flat_hash_set<std::string> in_from;
  for (const v1::SliceKeySummary& k : from.slices()) in_from.insert(k.key());
  for (v1::SliceKeySummary& k : *into->mutable_slices()) {
    Key& key = keys[k.key()];
    key.missing = k.missing() + (in_from.contains(k.key()) ? 0 : from_events);
    key.max_values = k.max_values();
    for (v1::SliceValueSummary& v : *k.mutable_values()) {
      key.values[v.value()] = std::move(*v.mutable_summary());
    }
  }
  for (const v1::SliceKeySummary& k : from.slices()) {
    auto [it, fresh] = keys.try_emplace(k.key());
    Key& key = it->second;
    key.missing += k.missing() + (fresh ? events_before : 0);
    key.max_values = std::max(key.max_values, k.max_values());
    for (const v1::SliceValueSummary& v : k.values()) {
      auto [vit, added] = key.values.try_emplace(v.value(), v.summary());
      if (added) continue;
      const bool same = vit->second.profile_id() == v.summary().profile_id();
      if (!same) vit->second.set_profile_id(std::string(kMixedProfiles));
      if (absl::Status s = MergeInto(&vit->second, v.summary(), same);
          !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "slices.", k.key(), "=", v.value(), ": ", s.message()));
      }
    }
  }
  into->clear_slices();
  for (auto& [name, key] : keys) {
    if (absl::Status s = BoundSliceValues(&key.values, key.max_values);
        !s.ok()) {
      return s;
    }
    v1::SliceKeySummary* k = into->add_slices();
    k->set_key(name);
    k->set_missing(key.missing);
    k->set_max_values(key.max_values);
    for (auto& [value, summary] : key.values) {
      v1::SliceValueSummary* v = k->add_values();
      v->set_value(value);
      *v->mutable_summary() = std::move(summary);
    }
  }
  return absl::OkStatus();
}

absl::Status MergeInto(v1::WindowSummary* into, const v1::WindowSummary& from,
                       bool histograms) {
  if (absl::Status s =
          MergeOperational(into->mutable_operational(), from.operational());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = MergePerformance(into->mutable_performance(),
                                        from.performance(), histograms);
      !s.ok()) {
    return s;
  }
  const uint64_t from_events = from.operational().event_count();
  const uint64_t events_before =
      into->operational().event_count() - from_events;
  if (absl::Status s =
          MergeFeatures(into, from, histograms, events_before, from_events);
      !s.ok()) {
    return s;
  }
  MergeAttributes(into, from, events_before, from_events);
  return MergeSlices(into, from, events_before, from_events);
}

}  // namespace

absl::Status SummaryMerger::Add(const v1::WindowSummary& summary,
                                size_t reports) {
  if (count_ == 0) {
    result_ = summary;
    count_ = reports;
    DropFeatureSketches();
    return absl::OkStatus();
  }
  const bool same_profile = result_.profile_id() == summary.profile_id();
  if (!same_profile) result_.set_profile_id(std::string(kMixedProfiles));
  if (absl::Status s = MergeInto(&result_, summary, same_profile); !s.ok()) {
    return s;
  }
  count_ += reports;
  DropFeatureSketches();
  return absl::OkStatus();
}

void SummaryMerger::DropFeatureSketches() {
  if (sketches_ == FeatureSketches::kKeep) return;
  for (v1::FeatureSummary& f : *result_.mutable_features()) f.clear_sketch();
}

absl::Status MergeSummaries(v1::WindowSummary* into,
                            const v1::WindowSummary& from) {
  SummaryMerger merger;
  if (absl::Status s = merger.Add(*into); !s.ok()) return s;
  if (absl::Status s = merger.Add(from); !s.ok()) return s;
  *into = merger.result();
  return absl::OkStatus();
}

}  // namespace aims
