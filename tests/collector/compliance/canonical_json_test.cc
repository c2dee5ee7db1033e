#include "collector/compliance/canonical_json.h"

#include <map>
#include <string>

#include "absl/time/time.h"
#include "collector/compliance/audit_trail.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

// The bytes below are part of every stored record's hash: if this test
// fails, existing audit trails would no longer verify.
const std::map<std::string, std::string> kFields = {
    {"agent", "pod-\xC3\xA9\\"},
    {"note", "line\nnext\t\x01"},
    {"a", "\"q\""},
};
constexpr char kCanonical[] = R"({"a":"\"q\"","agent":"pod-)"
                              "\xC3\xA9"
                              R"(\\","note":"line\nnext\t\u0001"})";

TEST(CanonicalJsonTest, KeysSortedStringsEscapedBytesKept) {
  EXPECT_EQ(CanonicalJson(kFields), kCanonical);
  EXPECT_EQ(CanonicalJson({}), "{}");
  EXPECT_EQ(CanonicalJson({{"k", ""}}), R"({"k":""})");
}

TEST(CanonicalJsonTest, RecordHashOfAFixedRecordNeverChanges) {
  v1::AuditRecord record;
  record.set_index(7);
  *record.mutable_at() =
      ToProto(absl::FromUnixMicros(int64_t{1764979200123456}));
  record.set_actor("alice");
  record.set_kind("nonconformity");
  record.set_body(CanonicalJson(kFields));
  // sha256("000...0" "7\n1764979200123456\nalice\nnonconformity\n" body),
  // computed independently.
  EXPECT_EQ(AuditTrail::RecordHash(std::string(64, '0'), record),
            "c02f67d8695cba487e23c5d9e5638009bd13f635d3aedd43dc683a14b01b37a6");
}

}  // namespace
}  // namespace aims::collector
