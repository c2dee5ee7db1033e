#include "collector/compliance/audit_trail.h"

#include "absl/strings/str_cat.h"
#include "collector/compliance/canonical_json.h"
#include "common/base/hash.h"
#include "common/base/time_util.h"
#include "common/rocks/keys.h"

namespace aims::collector {
namespace {

const std::string kGenesis(64, '0');

}  // namespace

AuditTrail::AuditTrail(Storage* storage, const Clock* clock)
    : storage_(storage), clock_(clock), last_hash_(kGenesis) {}

std::string AuditTrail::Key(uint64_t index) { return Uint64BigEndian(index); }

std::string AuditTrail::RecordHash(const std::string& prev_hash,
                                   const v1::AuditRecord& r) {
  return Sha256Hex(absl::StrCat(prev_hash, r.index(), "\n",
                                absl::ToUnixMicros(FromProto(r.at())), "\n",
                                r.actor(), "\n", r.kind(), "\n", r.body()));
}

absl::Status AuditTrail::Load() {
  absl::StatusOr<std::pair<std::string, std::string>> last =
      storage_->Last(Table::kAudit);
  absl::MutexLock lock(&mu_);
  if (absl::IsNotFound(last.status())) return absl::OkStatus();
  if (!last.ok()) return last.status();
  v1::AuditRecord record;
  if (!record.ParseFromString(last->second)) {
    return absl::DataLossError("audit: the last record cannot be parsed");
  }
  last_index_ = record.index();
  last_hash_ = record.hash();
  return absl::OkStatus();
}

absl::Status AuditTrail::Commit(std::vector<Mutation> mutations,
                                const std::vector<AuditEntry>& entries) {
  absl::MutexLock lock(&mu_);
  uint64_t index = last_index_;
  std::string hash = last_hash_;
  const absl::Time now = clock_->Now();
  for (const AuditEntry& e : entries) {
    v1::AuditRecord r;
    r.set_index(++index);
    *r.mutable_at() = ToProto(now);
    r.set_actor(e.actor);
    r.set_kind(e.kind);
    r.set_body(CanonicalJson(e.fields));
    r.set_prev_hash(hash);
    hash = RecordHash(hash, r);
    r.set_hash(hash);
    mutations.push_back({Table::kAudit, Key(r.index()), r.SerializeAsString()});
  }
  if (absl::Status s = storage_->Apply(mutations); !s.ok()) return s;
  last_index_ = index;
  last_hash_ = hash;
  return absl::OkStatus();
}

v1::VerifyAuditResponse AuditTrail::Verify() const {
  v1::VerifyAuditResponse out;
  out.set_intact(true);
  std::string prev = kGenesis;
  uint64_t expected = 1;
  auto broken = [&](uint64_t index, std::string detail) {
    out.set_intact(false);
    out.set_first_broken_index(index);
    out.set_detail(std::move(detail));
    return false;
  };
  absl::Status s = storage_->Scan(
      Table::kAudit, "", [&](absl::string_view key, absl::string_view value) {
        v1::AuditRecord r;
        if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return broken(expected, "record cannot be parsed");
        }
        if (key != Key(r.index())) {
          return broken(
              expected,
              absl::StrCat("record stored under another index claims index ",
                           r.index()));
        }
        if (r.index() != expected) {
          return broken(expected,
                        absl::StrCat("record ", expected,
                                     " is missing (next is ", r.index(), ")"));
        }
        if (r.prev_hash() != prev) {
          return broken(r.index(),
                        "prev_hash does not match the previous record's hash");
        }
        if (RecordHash(prev, r) != r.hash()) {
          return broken(r.index(),
                        "content does not match its hash (record edited)");
        }
        out.set_records_checked(out.records_checked() + 1);
        prev = r.hash();
        ++expected;
        return true;
      });
  if (!s.ok() && out.intact()) {
    out.set_intact(false);
    out.set_first_broken_index(expected);
    out.set_detail(std::string(s.message()));
  }
  if (out.intact()) {
    absl::MutexLock lock(&mu_);
    // Records lost from the end show up as a chain shorter than written.
    if (expected - 1 < last_index_) {
      out.set_intact(false);
      out.set_first_broken_index(expected);
      out.set_detail(absl::StrCat("records ", expected, "..", last_index_,
                                  " are missing"));
    }
  }
  return out;
}

std::vector<v1::AuditRecord> AuditTrail::List(uint64_t from_index,
                                              uint32_t limit) const {
  std::vector<v1::AuditRecord> out;
  if (limit == 0) limit = 1000;
  storage_
      ->Scan(
          Table::kAudit, Key(from_index),
          [&](absl::string_view, absl::string_view value) {
            v1::AuditRecord r;
            if (r.ParseFromArray(value.data(), static_cast<int>(value.size())))
              out.push_back(r);
            return out.size() < limit;
          })
      .IgnoreError();
  return out;
}

uint64_t AuditTrail::size() const {
  absl::MutexLock lock(&mu_);
  return last_index_;
}

}  // namespace aims::collector
