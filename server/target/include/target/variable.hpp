#pragma once
// The target loads values in the vocabulary the session API shows (server/values).
#include "values/variable.hpp"

namespace goscope::target {

using values::kFlagArgument;
using values::kFlagConstant;
using values::kFlagCPtr;
using values::kFlagCPURegister;
using values::kFlagEscaped;
using values::kFlagFakeAddress;
using values::kFlagReturnArgument;
using values::kFlagShadowed;
using values::kShortLoadConfig;
using values::LoadConfig;
using values::Variable;
using values::VariableFlags;

}  // namespace goscope::target
