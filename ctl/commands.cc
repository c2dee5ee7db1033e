#include "ctl/commands.h"

#include <utility>

namespace aims::ctl {
namespace {

constexpr char kCommandFooter[] =
    "Global options (--collector, --json, --timeout, TLS, --token_file, "
    "--config): see aimsctl --help.";

}  // namespace

CLI::App* CommandTable::Add(CLI::App* parent, const std::string& name,
                            const std::string& description, Handler handler) {
  CLI::App* sub = parent->add_subcommand(name, description);
  sub->footer(kCommandFooter);
  handlers_[sub] = std::move(handler);
  return sub;
}

CLI::App* CommandTable::AddGroup(CLI::App* parent, const std::string& name,
                                 const std::string& description) {
  CLI::App* group = parent->add_subcommand(name, description);
  group->footer(kCommandFooter);
  group->require_subcommand(1);
  return group;
}

const Handler* CommandTable::Find(const CLI::App* app) const {
  auto it = handlers_.find(app);
  return it == handlers_.end() ? nullptr : &it->second;
}

}  // namespace aims::ctl
