#include "collector/api/query_router.h"

#include <utility>

#include "common/net/bearer_token.h"

namespace aims::collector {
namespace {

constexpr char kScopeKey[] = "aims-scope";
constexpr char kScopeCollector[] = "collector";

}  // namespace

QueryRouter::QueryRouter(
    Options options, std::function<std::string(const std::string&)> owner_of,
    std::function<std::vector<std::string>()> members)
    : options_(std::move(options)),
      owner_of_(std::move(owner_of)),
      members_(std::move(members)) {}

std::string QueryRouter::OwnerElsewhere(const std::string& model_name) const {
  std::string owner = owner_of_(model_name);
  return owner == options_.self ? "" : owner;
}

std::vector<std::string> QueryRouter::Others() const {
  std::vector<std::string> others;
  for (std::string& m : members_()) {
    if (m != options_.self) others.push_back(std::move(m));
  }
  return others;
}

v1::QueryService::Stub* QueryRouter::Stub(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    stub = v1::QueryService::NewStub(
        WithBearerToken(address, options_.credentials, args, options_.token));
  }
  return stub.get();
}

void QueryRouter::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  context->AddMetadata(kScopeKey, kScopeCollector);
}

bool QueryRouter::CollectorScoped(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kScopeKey);
  return it != metadata.end() &&
         std::string_view(it->second.data(), it->second.size()) ==
             kScopeCollector;
}

}  // namespace aims::collector
