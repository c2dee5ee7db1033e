#include "common/summary/report_parts.h"

#include <utility>

namespace aims {

std::vector<v1::WindowReport> SplitReport(const v1::WindowReport& report,
                                          size_t max_bytes) {
  if (report.ByteSizeLong() <= max_bytes) return {report};
  std::vector<v1::WindowReport> parts;
  v1::WindowReport head = report;
  head.mutable_summary()->clear_features();
  head.mutable_summary()->clear_attributes();
  head.clear_predictions();
  head.clear_labels();
  v1::WindowReport shell;
  shell.set_agent_id(report.agent_id());
  shell.set_sequence(report.sequence());
  *shell.mutable_window_start() = report.window_start();
  *shell.mutable_window_end() = report.window_end();
  shell.mutable_summary()->set_profile_id(report.summary().profile_id());
  parts.push_back(std::move(head));
  size_t size = parts.back().ByteSizeLong();
  auto room_for = [&](size_t bytes) {
    if (size + bytes > max_bytes && size > shell.ByteSizeLong()) {
      parts.push_back(shell);
      size = shell.ByteSizeLong();
    }
    size += bytes;
  };
  for (const v1::FeatureSummary& f : report.summary().features()) {
    room_for(f.ByteSizeLong() + 8);
    *parts.back().mutable_summary()->add_features() = f;
  }
  for (const v1::AttributeSummary& a : report.summary().attributes()) {
    room_for(a.ByteSizeLong() + 8);
    *parts.back().mutable_summary()->add_attributes() = a;
  }
  for (const v1::PendingPrediction& p : report.predictions()) {
    room_for(p.ByteSizeLong() + 4);
    *parts.back().add_predictions() = p;
  }
  for (const v1::LabelEvent& l : report.labels()) {
    room_for(l.ByteSizeLong() + 4);
    *parts.back().add_labels() = l;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].set_part_index(static_cast<uint32_t>(i));
    parts[i].set_part_count(static_cast<uint32_t>(parts.size()));
  }
  return parts;
}

}  // namespace aims
