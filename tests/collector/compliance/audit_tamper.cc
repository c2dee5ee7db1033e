#include "tests/collector/compliance/audit_tamper.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/compliance/audit_trail.h"
#include "collector/storage/rocks_storage.h"
#include "rocksdb/db.h"

namespace aims::collector {

absl::Status TamperWithAuditRecord(const std::string& path, uint64_t index,
                                   const std::string& actor) {
  std::vector<std::string> names;
  rocksdb::Status s =
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  if (!s.ok()) return absl::InternalError(s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& n : names)
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &raw);
  if (!s.ok()) return absl::InternalError(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* audit_cf = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == RocksStorage::TableName(Table::kAudit))
      audit_cf = handles[i];
  }
  absl::Status result = absl::OkStatus();
  std::string value;
  v1::AuditRecord record;
  if (audit_cf == nullptr) {
    result = absl::NotFoundError("no audit column family");
  } else if (!db->Get(rocksdb::ReadOptions(), audit_cf, AuditTrail::Key(index),
                      &value)
                  .ok() ||
             !record.ParseFromString(value)) {
    result = absl::NotFoundError(absl::StrCat("no audit record ", index));
  } else {
    record.set_actor(actor);
    s = db->Put(rocksdb::WriteOptions(), audit_cf, AuditTrail::Key(index),
                record.SerializeAsString());
    if (!s.ok()) result = absl::InternalError(s.ToString());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  return result;
}

}  // namespace aims::collector
