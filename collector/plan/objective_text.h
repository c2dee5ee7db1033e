// CompleteObjective: what a parsed objective's fields leave to aims - its
// clause 9.1 description (what is monitored, how, when it is analysed) and
// the hash of its canonical definition, by which a plan reload keeps the
// state of an unchanged objective.
//
// Thread-safety: a pure function of the objective.
#ifndef AIMS_COLLECTOR_PLAN_OBJECTIVE_TEXT_H_
#define AIMS_COLLECTOR_PLAN_OBJECTIVE_TEXT_H_

#include "collector/plan/plan.h"

namespace aims::collector {

void CompleteObjective(Objective* o);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_PLAN_OBJECTIVE_TEXT_H_
