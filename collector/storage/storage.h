// Storage: the collector's durable state - window reports, the agent and
// model registries, and (later) profiles, plans and the audit trail.
//
// Contract:
//  - Every method that writes returns only after the write is durable by the
//    configured policy (see RocksStorage), so a caller may acknowledge it.
//  - Reports are unique by (agent_id, sequence): writing one that is already
//    stored changes nothing and is reported as a duplicate.
//  - Reads see every completed write.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef AIMS_COLLECTOR_STORAGE_STORAGE_H_
#define AIMS_COLLECTOR_STORAGE_STORAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "aims/v1/ingest.pb.h"
#include "aims/v1/query.pb.h"
#include "common/summary/summary_merge.h"

namespace aims::collector {

// Outcome of one report of a WriteReports batch. kExpired: the window starts
// before the model's raw retention horizon (its raw data and the rollups it
// would belong to may be gone), so it is acknowledged but not stored.
enum class WriteOutcome { kStored, kDuplicate, kExpired };

// Tables of small keyed records kept by the evaluation side.
enum class Table {
  kPlans,            // plan versions by hash
  kEvaluation,       // objective series state
  kNonconformities,  // nonconformity records by id
  kAudit,            // hash-chained audit records by big-endian index
  kOutbox,           // notifications not yet delivered
  kMeta,             // counters such as the next nonconformity number
  // The central label join (collector/labels/label_join.h owns the keys).
  kLabelRecords,  // join records of predictions, by model and window
  kLabelIds,      // (model name, environment, prediction_id) -> record key
  kLabelPending,  // labels waiting for their prediction's record
  kLabelDirty,    // windows whose label report must be recomputed
  // Fleet: nonconformity records of models another collector owns, copied
  // here as their replica (collector/fleet/replication_service.h), by id.
  kNonconformityCopies,
};

// One change of an atomic Apply(): a put, or a delete when `value` is empty.
struct Mutation {
  Table table;
  std::string key;
  std::optional<std::string> value;
};

// What a MergeReports call read: rollup buckets per resolution (10 s,
// 1 min, 10 min, 1 h, 1 d) and raw window reports.
struct MergeStats {
  uint64_t rollups_read[5] = {0, 0, 0, 0, 0};
  uint64_t raw_reports_read = 0;
  // When set, receives the (agent id, sequence) of every report in the
  // range still stored raw (retention may have deleted older ones), in
  // window-start order, read consistently with the merge.
  std::vector<std::pair<std::string, uint64_t>>* report_ids = nullptr;
};

// A report ready to store: what storage indexes it by, and its wire form,
// stored as it is. The ingest stream serializes each report once, on its
// own thread, and the writer's queue holds these bytes rather than the
// parsed report (a few times larger in memory).
struct EncodedReport {
  std::string agent_id;
  uint64_t sequence = 0;
  google::protobuf::Timestamp window_start;
  google::protobuf::Timestamp window_end;
  uint64_t event_count = 0;
  std::string bytes;  // the serialized v1::WindowReport
  // The report's join records and forwarded labels
  // (WindowReport.predictions and .labels) as a serialized WindowReport
  // holding only those fields, taken out of `bytes` so that stored reports
  // stay small; empty when it has none. The central label join stores them.
  std::string label_bytes;
  // Written in the same batch as the report when it is stored, not when it
  // is a duplicate or expired (the label join's records).
  std::vector<Mutation> on_store;
};

// `report`'s index fields; `bytes` is `serialized` (which must be `report`
// serialized) or, when empty, `report` serialized here.
EncodedReport EncodeReport(const v1::WindowReport& report,
                           std::string serialized = "");

// The agent id of label reports (Storage::PutLabelReport), the central
// label join's credit to a window.
inline constexpr char kLabelReportAgent[] = "aims-label-join";

// A stored report as a scan returns it.
struct StoredReport {
  v1::WindowReport report;
  v1::ModelRef model;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Records (or refreshes) the agent named by `hello` and the model it
  // reports for. Returns the highest sequence of the agent stored so far.
  // An agent id belongs to the model it first reported: a hello that names
  // another model is PERMISSION_DENIED naming both, and changes nothing.
  virtual absl::StatusOr<uint64_t> RegisterAgent(const v1::Hello& hello,
                                                 absl::Time now) = 0;

  // RegisterAgent that also leases the agent a replica slot of its model
  // (AgentInfo.slot, from 1): its own earlier slot when no other agent holds
  // it, else the lowest slot no other agent holds. An agent holds its slot
  // while it has not left and `connected` says so (null: while it has not
  // left). A registered agent that had not left but lost its slot this way
  // is marked left ("replaced"); `replaced` (optional) receives its id.
  // Returns the agent's highest durable sequence; `slot` receives the slot.
  virtual absl::StatusOr<uint64_t> RegisterAgentInSlot(
      const v1::Hello& hello, absl::Time now,
      const std::function<bool(const std::string&)>& connected, uint32_t* slot,
      std::vector<std::string>* replaced) {
    *slot = 0;
    (void)connected;
    (void)replaced;
    return RegisterAgent(hello, now);
  }
  // Marks `agent_id` as left at `now` for `reason` ("deregistered",
  // "expired"): coverage objectives stop expecting it and its slot is free
  // (AgentInfo.left_at). NOT_FOUND for an unknown agent.
  virtual absl::Status MarkAgentLeft(const std::string& agent_id,
                                     absl::string_view reason, absl::Time now) {
    (void)agent_id;
    (void)reason;
    (void)now;
    return absl::UnimplementedError("this storage keeps no agent lifecycle");
  }

  // Stores `reports` atomically. Every report's agent must be registered.
  // `outcomes` receives one entry per report.
  virtual absl::Status WriteEncodedReports(
      absl::Span<const EncodedReport* const> reports, absl::Time now,
      std::vector<WriteOutcome>* outcomes) = 0;
  // The same for parsed reports (encodes them first).
  absl::Status WriteReports(absl::Span<const v1::WindowReport* const> reports,
                            absl::Time now,
                            std::vector<WriteOutcome>* outcomes);

  // The model `agent_id` registered with; nullopt when unknown.
  virtual std::optional<v1::ModelRef> AgentModel(
      const std::string& agent_id) const {
    (void)agent_id;
    return std::nullopt;
  }

  // Stores or replaces the label report of `model`'s window
  // [report.window_start, report.window_end): the delayed labels the central
  // label join credited to it (collector/labels/label_join.h), kept beside
  // the agents' reports of the window under a reserved agent number, so
  // that queries and rollups of the window include it; the rollups it
  // changes are rebuilt as for a late report. `mutations` go in the same
  // batch. A window past raw retention (its reports and finer rollups may be
  // gone) keeps no raw report: `delta`, the summary of the labels credited
  // since the last call, is merged into the rollup buckets that hold the
  // window instead, and kExpired is returned.
  virtual absl::StatusOr<WriteOutcome> PutLabelReport(
      const v1::ModelRef& model, const EncodedReport& report,
      const v1::WindowSummary& delta, const std::vector<Mutation>& mutations) {
    (void)model;
    (void)report;
    (void)delta;
    (void)mutations;
    return absl::UnimplementedError("this storage keeps no label reports");
  }

  // Records windows an agent declared lost. Sequences of the range that are
  // stored anyway do not count; a gap resent with the same first sequence
  // replaces the earlier record. Returns how many sequences are missing.
  virtual absl::StatusOr<uint64_t> RecordGap(const v1::GapNotice& gap,
                                             absl::Time now) = 0;

  // Reference profiles, one per model name and version. PutProfile with
  // `if_absent` keeps an existing profile. Both return the profile in force.
  virtual absl::StatusOr<v1::ReferenceProfile> PutProfile(
      const v1::ReferenceProfile& profile, bool if_absent, bool* created) = 0;
  // NOT_FOUND when the version has no profile.
  virtual absl::StatusOr<v1::ReferenceProfile> GetProfile(
      const v1::ModelRef& model) const = 0;

  // Registries.
  virtual std::vector<v1::ModelInfo> ListModels(
      const v1::ModelSelector& selector) const = 0;
  virtual std::vector<v1::AgentInfo> ListAgents(
      const v1::ModelSelector& selector) const = 0;

  // Gap records (windows agents declared lost) of the models matching
  // `selector`.
  virtual std::vector<v1::GapNotice> ListGaps(
      const v1::ModelSelector& selector) const = 0;

  // Keyed records: Apply() writes all mutations atomically and durably.
  virtual absl::Status Apply(const std::vector<Mutation>& mutations) = 0;
  // NOT_FOUND when absent.
  virtual absl::StatusOr<std::string> Get(Table table,
                                          absl::string_view key) const = 0;
  // The records of `keys` in their order (nullopt: absent), read together:
  // cheaper than a Get() each. The default calls Get() for each.
  virtual absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      Table table, absl::Span<const std::string> keys) const;
  // Calls `fn` for each record with key >= `from` in key order until it
  // returns false.
  virtual absl::Status Scan(
      Table table, absl::string_view from,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const = 0;
  // The record with the greatest key; NOT_FOUND when the table is empty.
  virtual absl::StatusOr<std::pair<std::string, std::string>> Last(
      Table table) const = 0;

  // Calls `fn` for each report of `model` whose window starts in
  // [from, to), in window-start order. Stops early when `fn` returns false.
  virtual absl::Status ScanReports(
      const v1::ModelRef& model, absl::Time from, absl::Time to,
      const std::function<bool(const StoredReport&)>& fn) const = 0;
  // ScanReports without the reports' summaries (left empty, never parsed):
  // for callers that need a report's agent, sequence and window only, at a
  // small part of the cost.
  virtual absl::Status ScanReportHeaders(
      const v1::ModelRef& model, absl::Time from, absl::Time to,
      const std::function<bool(const StoredReport&)>& fn) const = 0;

  // Merges every report of `model` whose window starts in [from, to) into
  // `merger`: the same result as merging the ScanReports() reports, but an
  // implementation with rollups reads whole rollup buckets where they fit
  // (docs/storage.md). `stats` (optional) receives what was read.
  virtual absl::Status MergeReports(const v1::ModelRef& model, absl::Time from,
                                    absl::Time to, SummaryMerger* merger,
                                    MergeStats* stats) const;
};

// True when `model` matches every non-empty field of `selector`.
bool Matches(const v1::ModelSelector& selector, const v1::ModelRef& model);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_STORAGE_STORAGE_H_
