#include "ctl/help_formatter.h"

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace aims::ctl {
namespace {

constexpr size_t kHelpWidth = 80;
constexpr size_t kHelpColumn = 30;

// Words of `text` in lines of at most `width` characters (paragraphs kept).
std::string Wrap(const std::string& text, size_t width) {
  std::string out;
  for (absl::string_view paragraph : absl::StrSplit(text, '\n')) {
    if (!out.empty()) out += '\n';
    size_t line = 0;
    for (absl::string_view word :
         absl::StrSplit(paragraph, ' ', absl::SkipEmpty())) {
      if (line > 0 && line + 1 + word.size() > width) {
        out += '\n';
        line = 0;
      } else if (line > 0) {
        out += ' ';
        ++line;
      }
      absl::StrAppend(&out, word);
      line += word.size();
    }
  }
  return out;
}

class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter() { column_width(kHelpColumn); }
  std::string make_description(const CLI::App* app) const override {
    return Wrap(app->get_description(), kHelpWidth) + "\n\n";
  }
  std::string make_footer(const CLI::App* app) const override {
    return app->get_footer().empty()
               ? ""
               : Wrap(app->get_footer(), kHelpWidth) + "\n";
  }
  // The value's kind and default; no "Excludes:" lists (the descriptions
  // say which options go together).
  std::string make_option_opts(const CLI::Option* option) const override {
    if (option->get_type_size() == 0) return "";
    std::string out;
    if (!option->get_type_name().empty()) {
      absl::StrAppend(&out, " ", option->get_type_name());
    }
    if (!option->get_default_str().empty()) {
      absl::StrAppend(&out, "=", option->get_default_str());
    }
    return out;
  }
  std::string make_option_desc(const CLI::Option* option) const override {
    return Wrap(option->get_description(), kHelpWidth - kHelpColumn);
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    std::stringstream out;
    CLI::detail::format_help(
        out, sub->get_display_name(true),
        Wrap(sub->get_description(), kHelpWidth - kHelpColumn), kHelpColumn);
    return out.str();
  }
};

}  // namespace

std::shared_ptr<CLI::Formatter> NewHelpFormatter() {
  return std::make_shared<HelpFormatter>();
}

}  // namespace aims::ctl
