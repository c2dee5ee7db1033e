#include "collector/api/fleet_router.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/net/bearer_token.h"

namespace aims::collector {
namespace {

constexpr char kScopeKey[] = "aims-scope";
constexpr char kScopeCollector[] = "collector";

}  // namespace

FleetRouter::FleetRouter(
    Options options, std::function<std::string(const std::string&)> owner_of,
    std::function<std::vector<std::string>()> members)
    : options_(std::move(options)),
      owner_of_(std::move(owner_of)),
      members_(std::move(members)) {}

std::string FleetRouter::OwnerElsewhere(const std::string& model_name) const {
  std::string owner = owner_of_(model_name);
  return owner == options_.self ? "" : owner;
}

std::vector<std::string> FleetRouter::Others() const {
  std::vector<std::string> others;
  for (std::string& m : members_()) {
    if (m != options_.self) others.push_back(std::move(m));
  }
  return others;
}

std::shared_ptr<grpc::Channel> FleetRouter::Channel(
    const std::string& address) {
  auto& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    channel =
        WithBearerToken(address, options_.credentials, args, options_.token);
  }
  return channel;
}

v1::QueryService::Stub* FleetRouter::Stub(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) stub = v1::QueryService::NewStub(Channel(address));
  return stub.get();
}

v1::LabelService::Stub* FleetRouter::LabelStub(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = label_stubs_[address];
  if (stub == nullptr) stub = v1::LabelService::NewStub(Channel(address));
  return stub.get();
}

v1::NonconformityService::Stub* FleetRouter::NcStub(
    const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = nc_stubs_[address];
  if (stub == nullptr)
    stub = v1::NonconformityService::NewStub(Channel(address));
  return stub.get();
}

void FleetRouter::NoteSilent(const std::string& member, const grpc::Status& s) {
  LogWarn("collector did not answer a fleet listing; listed without it",
          {{"collector", member}, {"error", s.error_message()}});
}

absl::Status FleetRouter::Answer(const grpc::Status& s, absl::string_view role,
                                 const std::string& address) {
  if (s.ok()) return absl::OkStatus();
  switch (s.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::UnavailableError(absl::StrCat(
          role, ", collector ", address,
          ", refused this collector's fleet token (--fleet_token_file): ",
          s.error_message()));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
      return absl::UnavailableError(
          absl::StrCat(role, ", collector ", address,
                       ", did not answer: ", s.error_message()));
    default:
      return absl::Status(
          static_cast<absl::StatusCode>(s.error_code()),
          absl::StrCat(role, ", collector ", address, ": ", s.error_message()));
  }
}

void FleetRouter::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  context->AddMetadata(kScopeKey, kScopeCollector);
}

CallScope FleetRouter::ScopeOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kScopeKey);
  return it != metadata.end() &&
                 std::string_view(it->second.data(), it->second.size()) ==
                     kScopeCollector
             ? CallScope::kCollector
             : CallScope::kFleet;
}

}  // namespace aims::collector
