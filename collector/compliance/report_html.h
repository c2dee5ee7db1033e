// The compliance report as one self-contained HTML page, for a reader who is
// not an engineer and for print: the document of report_document.h with
// inline SVG charts (svg_chart.h) of the 9.3 trend and of each objective's
// values against its threshold, coloured states, objectives and
// nonconformities as cards instead of wide tables, tables that wrap within a
// 1200 px window, a glossary and a print stylesheet. No script, no external
// asset: it reads the same offline, printed or saved as PDF.
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_COMPLIANCE_REPORT_HTML_H_
#define AIMS_COLLECTOR_COMPLIANCE_REPORT_HTML_H_

#include <string>

#include "aims/v1/compliance_report.pb.h"

namespace aims::collector {

std::string RenderHtml(const v1::ComplianceReport& report);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_REPORT_HTML_H_
