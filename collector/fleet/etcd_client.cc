#include "collector/fleet/etcd_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace aims::collector::fleet {
namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("etcd ", what, ": ", s.error_message()));
}

// The end of the range of every key starting with `prefix` (etcd's
// clientv3.GetPrefixRangeEnd).
std::string PrefixEnd(std::string prefix) {
  for (size_t i = prefix.size(); i > 0; --i) {
    if (static_cast<unsigned char>(prefix[i - 1]) < 0xff) {
      ++prefix[i - 1];
      prefix.resize(i);
      return prefix;
    }
  }
  return std::string(1, '\0');  // every key
}

}  // namespace

EtcdClient::EtcdClient(const std::string& endpoint, absl::Duration timeout)
    : endpoint_(endpoint), timeout_(timeout) {
  auto channel =
      grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  kv_ = etcdserverpb::KV::NewStub(channel);
  lease_ = etcdserverpb::Lease::NewStub(channel);
  watch_ = etcdserverpb::Watch::NewStub(channel);
}

void EtcdClient::Arm(grpc::ClientContext* ctx) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(absl::Duration ttl) {
  grpc::ClientContext ctx;
  Arm(&ctx);
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(ttl)));
  etcdserverpb::LeaseGrantResponse response;
  if (absl::Status s =
          FromGrpc(lease_->LeaseGrant(&ctx, request, &response), "grant");
      !s.ok()) {
    return s;
  }
  if (!response.error().empty()) {
    return absl::UnavailableError(
        absl::StrCat("etcd grant: ", response.error()));
  }
  return response.id();
}

absl::Status EtcdClient::KeepAlive(int64_t id) {
  grpc::ClientContext ctx;
  Arm(&ctx);
  auto stream = lease_->LeaseKeepAlive(&ctx);
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(id);
  etcdserverpb::LeaseKeepAliveResponse response;
  const bool answered = stream->Write(request) && stream->Read(&response);
  stream->WritesDone();
  ctx.TryCancel();  // one renewal per stream: simple, and cheap at ttl/3
  (void)stream->Finish();
  if (!answered) return absl::UnavailableError("etcd keepalive: no answer");
  if (response.ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd lease ", id, " expired"));
  }
  return absl::OkStatus();
}

absl::Status EtcdClient::RevokeLease(int64_t id) {
  grpc::ClientContext ctx;
  Arm(&ctx);
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(id);
  etcdserverpb::LeaseRevokeResponse response;
  return FromGrpc(lease_->LeaseRevoke(&ctx, request, &response), "revoke");
}

absl::Status EtcdClient::Put(const std::string& key, const std::string& value,
                             int64_t lease) {
  grpc::ClientContext ctx;
  Arm(&ctx);
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  etcdserverpb::PutResponse response;
  return FromGrpc(kv_->Put(&ctx, request, &response), "put");
}

absl::StatusOr<std::string> EtcdClient::PutIfAbsent(const std::string& key,
                                                    const std::string& value,
                                                    int64_t lease) {
  // if create_revision(key) == 0: put
  // else: if value(key) == value: put, else: range
  // etcd's compares are a conjunction: the "or" is a transaction nested in
  // the failure branch, so the whole claim is one atomic Txn.
  auto compare = [&key](etcdserverpb::TxnRequest* txn) {
    etcdserverpb::Compare* c = txn->add_compare();
    c->set_result(etcdserverpb::Compare::EQUAL);
    c->set_key(key);
    return c;
  };
  auto put = [&](etcdserverpb::RequestOp* op) {
    etcdserverpb::PutRequest* p = op->mutable_request_put();
    p->set_key(key);
    p->set_value(value);
    p->set_lease(lease);
  };
  etcdserverpb::TxnRequest request;
  etcdserverpb::Compare* absent = compare(&request);
  absent->set_target(etcdserverpb::Compare::CREATE);
  absent->set_create_revision(0);
  put(request.add_success());
  etcdserverpb::TxnRequest* same = request.add_failure()->mutable_request_txn();
  etcdserverpb::Compare* equal = compare(same);
  equal->set_target(etcdserverpb::Compare::VALUE);
  equal->set_value(value);
  put(same->add_success());
  same->add_failure()->mutable_request_range()->set_key(key);

  grpc::ClientContext ctx;
  Arm(&ctx);
  etcdserverpb::TxnResponse response;
  if (absl::Status s = FromGrpc(kv_->Txn(&ctx, request, &response), "txn");
      !s.ok()) {
    return s;
  }
  if (response.succeeded()) return value;
  if (response.responses_size() != 1 ||
      !response.responses(0).has_response_txn()) {
    return absl::InternalError("etcd txn: unexpected response");
  }
  const etcdserverpb::TxnResponse& inner = response.responses(0).response_txn();
  if (inner.succeeded()) return value;
  if (inner.responses_size() != 1 || !inner.responses(0).has_response_range() ||
      inner.responses(0).response_range().kvs_size() != 1) {
    return absl::InternalError("etcd txn: unexpected response");
  }
  return inner.responses(0).response_range().kvs(0).value();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
EtcdClient::List(const std::string& prefix) {
  grpc::ClientContext ctx;
  Arm(&ctx);
  etcdserverpb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(PrefixEnd(prefix));
  etcdserverpb::RangeResponse response;
  if (absl::Status s = FromGrpc(kv_->Range(&ctx, request, &response), "range");
      !s.ok()) {
    return s;
  }
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(response.kvs_size());
  for (const etcdserverpb::KeyValue& kv : response.kvs()) {
    out.emplace_back(kv.key(), kv.value());
  }
  return out;
}

absl::Status EtcdClient::Watch(const std::string& prefix,
                               grpc::ClientContext* context,
                               const std::function<void()>& on_change) {
  auto stream = watch_->Watch(context);
  etcdserverpb::WatchRequest request;
  request.mutable_create_request()->set_key(prefix);
  request.mutable_create_request()->set_range_end(PrefixEnd(prefix));
  if (!stream->Write(request)) return FromGrpc(stream->Finish(), "watch");
  etcdserverpb::WatchResponse response;
  while (stream->Read(&response)) {
    if (response.canceled()) {
      context->TryCancel();
      (void)stream->Finish();
      return absl::AbortedError(
          absl::StrCat("etcd watch canceled: ", response.cancel_reason()));
    }
    // Once established too: a change may have come before the watch did.
    if (response.created() || response.events_size() > 0) on_change();
  }
  return FromGrpc(stream->Finish(), "watch");
}

}  // namespace aims::collector::fleet
