// How aimsctl's tables write times, numbers and models.
//
// Thread-safety: stateless.
#ifndef AIMS_CTL_FORMAT_H_
#define AIMS_CTL_FORMAT_H_

#include <string>

#include "aims/v1/identity.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace aims::ctl {

// RFC 3339 in UTC to the second; "-" for an unset timestamp.
std::string Time(const google::protobuf::Timestamp& t);

// Four significant digits; "-" for NaN (no value).
std::string Number(double v);

// name/version/environment.
std::string ModelText(const v1::ModelRef& model);

}  // namespace aims::ctl

#endif  // AIMS_CTL_FORMAT_H_
