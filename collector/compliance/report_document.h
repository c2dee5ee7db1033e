// The compliance report (aims.v1.ComplianceReport) as a document for people:
// titled tables of plain text, written for a reader who is not an engineer
// (evidence as sentences, agents by pod or host name, states and stages in
// words, a glossary). The HTML, Markdown and CSV renderings all come from
// it, so they say the same.
//
// Tables, by name (CSV `table`):
//   plan             plan versions in force during the period
//   summary          totals: objectives, series, nonconformities, false
//                    alarms, risks accepted, mean times
//   objectives       9.1 answers per objective: what, method, when measured,
//                    when analysed, severity, owner, ISO references
//   results          9.1 results per objective series: share of the period
//                    held / pending / firing / insufficient / unevaluated,
//                    firings, state at the end, last value, nonconformities
//   trend            9.3 nonconformity and corrective-action trend per bucket
//   open             open items at the end of the period and their next step
//   nonconformities  every nonconformity of the period with its evidence,
//                    corrective action and ending (closed, invalid, risk
//                    accepted)
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_COMPLIANCE_REPORT_DOCUMENT_H_
#define AIMS_COLLECTOR_COMPLIANCE_REPORT_DOCUMENT_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "aims/v1/compliance_report.pb.h"

namespace aims::collector {

struct ReportTable {
  std::string name;   // for CSV `table`
  std::string title;  // section heading
  std::string intro;  // one sentence on what the table shows
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Column holding a state or stage name (coloured in HTML); -1: none.
  int state_column = -1;
};

struct ReportDocument {
  std::string title;
  // Heading facts: period, generation time, collector, audit trail state.
  std::vector<std::pair<std::string, std::string>> facts;
  std::vector<ReportTable> tables;
  // Terms the report uses and what they mean, in reading order.
  std::vector<std::pair<std::string, std::string>> glossary;
};

ReportDocument BuildReportDocument(const v1::ComplianceReport& report);

// How the report names the agents of report.agents: "pod-a on host-1" (or
// the host, or the id when the agent said neither), keyed by "agent=<id>"
// and by "<model> slot=<n>" for the agent last in a replica slot.
std::map<std::string, std::string> AgentNames(
    const v1::ComplianceReport& report);

// A series as people read it: "m/v/e agent=<id>" becomes "m/v/e agent
// <pod> on <host>", "m/v/e slot=2" becomes "m/v/e replica slot 2 (<pod> on
// <host>)"; unchanged when the agent is not known.
std::string SeriesText(const std::string& series,
                       const std::map<std::string, std::string>& agents);

// What the evidence of `nc` shows, in sentences: the value and what the plan
// requires, how much data it rests on, and how the breach was decided.
std::string EvidenceSentence(const v1::Nonconformity& nc);

// "2026-12-06 13:00:05Z"; "-" when unset.
std::string ReportTime(const google::protobuf::Timestamp& t);

// "at least 0.6", "below 0.4" for a comparator and threshold of `metric`.
std::string RequirementText(const std::string& metric,
                            const std::string& comparator, double threshold);

// A value of `metric` as the report writes it (latencies with their unit).
std::string MetricNumber(const std::string& metric, double v);

// The name people read for a nonconformity stage: "acknowledged",
// "invalid (false alarm)", "risk accepted".
std::string StageText(v1::NonconformityStage stage);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_REPORT_DOCUMENT_H_
