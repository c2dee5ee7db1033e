// profile build|put|show: reference profiles (the baseline drift is
// measured against), built here from training data and stored at the
// collector.
#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aims/v1/query.grpc.pb.h"
#include "common/summary/profile_builder.h"
#include "ctl/arguments.h"
#include "ctl/call.h"
#include "ctl/commands.h"
#include "ctl/format.h"
#include "ctl/profile_csv.h"
#include "ctl/table.h"
#include "google/protobuf/util/json_util.h"

namespace aims::ctl {
namespace {

using Query = v1::QueryService::Stub;

struct BuildOptions {
  std::string input;
  ModelOptions model;
  std::string task = "binary";
  std::string positive_class = "1";
  ProfileCsvColumns columns;  // label, score, prediction, sensitive, ignore
  int bins = 10;
  int top_k = 20;
  std::string output;
  bool put = false;
  bool replace = false;
};

struct PutOptions {
  std::string file;
  bool replace = false;
};

// PutProfile, replacing a different stored profile only when `replace`.
absl::StatusOr<v1::PutProfileResponse> Store(const CallOptions& call,
                                             v1::PutProfileRequest request,
                                             bool replace) {
  request.set_replace(replace);
  return Call(call, &Query::PutProfile, request);
}

struct ShowOptions {
  std::string model;
  std::string version;
};

v1::TaskType TaskOf(const std::string& task) {
  if (task == "multiclass") return v1::TASK_TYPE_MULTICLASS;
  if (task == "regression") return v1::TASK_TYPE_REGRESSION;
  return v1::TASK_TYPE_BINARY;  // OneOf() allows nothing else
}

// Reads the CSV into a profile; every problem is a usage error naming the
// file (and line, column) or the option.
absl::StatusOr<v1::ReferenceProfile> BuildProfile(const BuildOptions& options,
                                                  std::ostream& err) {
  std::ifstream in(options.input);
  if (!in)
    return UsageError(absl::StrCat("--input: cannot read ", options.input));
  aims::ProfileBuildOptions build;
  build.task = TaskOf(options.task);
  build.positive_class = options.positive_class;
  build.numeric_bins = options.bins;
  build.top_k = options.top_k;
  ProfileBuilder builder(build);
  std::vector<std::string> header;
  absl::Status read = AddCsvRows(in, options.columns, &builder, &header);
  if (!read.ok()) {
    return UsageError(absl::StrCat(options.input, ": ", read.message()));
  }
  for (const std::string& s : options.columns.sensitive) {
    if (std::find(header.begin(), header.end(), s) == header.end()) {
      return UsageError(
          absl::StrCat("--sensitive: no column '", s, "' in ", options.input));
    }
  }
  absl::StatusOr<v1::ReferenceProfile> profile = builder.Build(
      ModelRefOf(options.model, "any"), v1::PROFILE_SOURCE_TRAINING_DATA,
      absl::StrCat("aimsctl profile build --input=", options.input));
  if (!profile.ok()) return UsageError(profile.status().message());
  if (builder.truncated()) {
    err << "aimsctl profile build: warning: only the first " << builder.rows()
        << " rows were used\n";
  }
  return profile;
}

absl::Status ProfileBuild(const CallOptions& call, const BuildOptions& options,
                          std::ostream& out, std::ostream& err) {
  if (options.input.empty() || options.model.model.empty() ||
      options.model.version.empty()) {
    return UsageError("--input, --model and --version are required");
  }
  absl::StatusOr<v1::ReferenceProfile> profile = BuildProfile(options, err);
  if (!profile.ok()) return profile.status();
  const std::string json = ProtoToJson(*profile);
  if (!options.output.empty()) {
    std::ofstream file(options.output, std::ios::trunc);
    file << json << "\n";
    if (!file.good()) {
      return absl::UnavailableError(
          absl::StrCat("--output: cannot write ", options.output));
    }
  }
  const std::string counts = absl::StrCat(
      profile->row_count(), " rows, ", profile->features_size(), " features");
  if (options.put) {
    v1::PutProfileRequest request;
    *request.mutable_profile() = *profile;
    absl::StatusOr<v1::PutProfileResponse> response =
        Store(call, request, options.replace);
    if (!response.ok()) return response.status();
    out << "stored profile " << response->profile_id() << " for "
        << options.model.model << "/" << options.model.version << " (" << counts
        << ")\n";
  } else if (options.output.empty()) {
    out << json << "\n";
  } else {
    out << "wrote profile " << profile->profile_id() << " to " << options.output
        << " (" << counts << ")\n";
  }
  return absl::OkStatus();
}

absl::Status ProfilePut(const CallOptions& call, const PutOptions& options,
                        std::ostream& out) {
  std::ifstream in(options.file);
  if (!in) return UsageError(absl::StrCat("cannot read ", options.file));
  std::stringstream text;
  text << in.rdbuf();
  v1::PutProfileRequest request;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      text.str(), request.mutable_profile());
  if (!parsed.ok()) {
    return UsageError(absl::StrCat(
        options.file, ": not a profile: ", std::string(parsed.message())));
  }
  absl::StatusOr<v1::PutProfileResponse> response =
      Store(call, request, options.replace);
  if (!response.ok()) return response.status();
  out << "stored profile " << response->profile_id() << " for "
      << response->profile().model().name() << "/"
      << response->profile().model().version() << "\n";
  return absl::OkStatus();
}

void PrintProfile(const v1::ReferenceProfile& profile, std::ostream& out) {
  out << "profile " << profile.profile_id() << "\nsource "
      << v1::ProfileSource_Name(profile.source()) << ", " << profile.row_count()
      << " rows, created " << Time(profile.created_at()) << "\n\n";
  Table table({"FEATURE", "KIND", "BINS", "MIN", "MAX", "MEAN"});
  for (const v1::FeatureProfile& f : profile.features()) {
    const bool numeric = f.kind() == v1::FeatureProfile::KIND_NUMERIC;
    table.AddRow(
        {f.name(), numeric ? "numeric" : "categorical",
         absl::StrCat(numeric ? f.edges_size() + 1 : f.categories_size() + 1),
         numeric ? absl::StrFormat("%g", f.min()) : "-",
         numeric ? absl::StrFormat("%g", f.max()) : "-",
         numeric ? absl::StrFormat("%g", f.mean()) : "-"});
  }
  table.Print(out);
}

absl::Status ProfileShow(const CallOptions& call, const ShowOptions& options,
                         std::ostream& out) {
  if (options.model.empty() || options.version.empty()) {
    return UsageError("--model and --version are required");
  }
  v1::GetProfileRequest request;
  request.mutable_model()->set_name(options.model);
  request.mutable_model()->set_version(options.version);
  return CallAndShow(call, &Query::GetProfile, request, PrintProfile, out);
}

void AddBuildOptions(CLI::App* sub, BuildOptions* o) {
  sub->add_option("--input", o->input,
                  "Training data: CSV with a header row (required).")
      ->type_name("CSV");
  AddModelOptions(sub, &o->model, ModelUse::kRequired, "any");
  sub->add_option("--task", o->task, "binary, multiclass or regression.")
      ->check(OneOf({"binary", "multiclass", "regression"},
                    "binary, multiclass or regression"))
      ->capture_default_str();
  sub->add_option("--positive_class", o->positive_class, "The positive class.")
      ->capture_default_str();
  sub->add_option("--label_column", o->columns.label,
                  "Column of the true label.")
      ->capture_default_str();
  sub->add_option("--score_column", o->columns.score,
                  "Column of the positive-class score, if any.")
      ->capture_default_str();
  sub->add_option("--prediction_column", o->columns.prediction,
                  "Column of the predicted class or value, if any.")
      ->capture_default_str();
  sub->add_option("--sensitive", o->columns.sensitive,
                  "Sensitive attribute columns, comma-separated (not "
                  "features; their groups' base rates are profiled).")
      ->delimiter(',')
      ->type_name("COLUMN,...");
  sub->add_option("--ignore", o->columns.ignore,
                  "Columns to leave out, comma-separated (e.g. ids).")
      ->delimiter(',')
      ->type_name("COLUMN,...");
  sub->add_option("--bins", o->bins, "Numeric bins (quantiles), 2..1000.")
      ->check(CLI::Range(2, 1000))
      ->type_name("N")
      ->capture_default_str();
  sub->add_option("--top_k", o->top_k, "Categories kept per feature, 1..1000.")
      ->check(CLI::Range(1, 1000))
      ->type_name("N")
      ->capture_default_str();
  sub->add_option("--output", o->output, "Write the profile (JSON) here.")
      ->type_name("FILE");
  sub->add_flag("--put", o->put, "Also store it at the collector.");
  sub->add_flag("--replace", o->replace,
                "With --put: replace the version's stored profile if it "
                "differs (connected agents get the new one at once); "
                "without it a different stored profile is an error.");
}

}  // namespace

void AddProfileCommands(CLI::App* app, CommandTable* table) {
  CLI::App* profile = table->AddGroup(
      app, "profile", "Reference profiles of models: build, put, show.");

  auto build = std::make_shared<BuildOptions>();
  CLI::App* sub = table->Add(
      profile, "build", "A reference profile from training data (CSV).",
      [build](const CallOptions& call, std::ostream& out, std::ostream& err) {
        return ProfileBuild(call, *build, out, err);
      });
  AddBuildOptions(sub, build.get());

  auto put = std::make_shared<PutOptions>();
  sub =
      table->Add(profile, "put", "Store a profile (JSON) at the collector.",
                 [put](const CallOptions& call, std::ostream& out,
                       std::ostream&) { return ProfilePut(call, *put, out); });
  sub->add_option("file", put->file,
                  "The profile, as 'profile build' wrote it.")
      ->required()
      ->type_name("FILE");
  sub->add_flag("--replace", put->replace,
                "Replace the version's stored profile if it differs "
                "(connected agents get the new one at once); without it a "
                "different stored profile is an error.");

  auto show = std::make_shared<ShowOptions>();
  sub = table->Add(
      profile, "show", "The stored profile of --model --version.",
      [show](const CallOptions& call, std::ostream& out, std::ostream&) {
        return ProfileShow(call, *show, out);
      });
  // Profiles are per model version, shared by its environments.
  sub->add_option("--model", show->model, "Model name (required).")
      ->type_name("NAME");
  sub->add_option("--version", show->version, "Model version (required).")
      ->type_name("VERSION");
}

}  // namespace aims::ctl
