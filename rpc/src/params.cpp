#include "rpc/params.hpp"

#include <array>
#include <initializer_list>
#include <string>
#include <unordered_map>

#include "rpc/codec.hpp"
#include "rpc/json_api.hpp"

namespace goscope::rpc {
namespace json = boost::json;

namespace {

/// A Go type as encoding/json sees it.
struct GoType {
  enum class Kind { signed_int, unsigned_int, boolean, string, structure, slice, array, map, any };
  Kind kind;
  std::string_view name;  ///< reflect's Type.String(): "int", "api.WatchType", "[]string"
  unsigned bits = 64;     ///< integers
  std::vector<std::pair<std::string_view, const GoType*>> fields;  ///< structs: JSON key, type
  const GoType* elem = nullptr;  ///< slices, arrays, maps (values; keys are strings)
  std::size_t length = 0;        ///< arrays
};

using K = GoType::Kind;

GoType integer(std::string_view name, unsigned bits = 64) {
  return {K::signed_int, name, bits, {}, nullptr, 0};
}
GoType unsigned_integer(std::string_view name, unsigned bits) {
  return {K::unsigned_int, name, bits, {}, nullptr, 0};
}
GoType structure(std::string_view name,
                 std::initializer_list<std::pair<std::string_view, const GoType*>> fields) {
  return {K::structure, name, 0, fields, nullptr, 0};
}
GoType container(K kind, std::string_view name, const GoType* elem, std::size_t length = 0) {
  return {kind, name, 0, {}, elem, length};
}

// service/api's types, as Delve 1.20.2 declares them. A pointer field (*LoadConfig) decodes
// as its element does (null is "not given").
const GoType kInt = integer("int");
const GoType kInt64 = integer("int64");
const GoType kUint64 = unsigned_integer("uint64", 64);
const GoType kWatchType = unsigned_integer("api.WatchType", 8);
const GoType kGoroutineField = unsigned_integer("api.GoroutineField", 8);
const GoType kStacktraceOptions = unsigned_integer("api.StacktraceOptions", 16);
const GoType kAssemblyFlavour = integer("api.AssemblyFlavour");
const GoType kBool{K::boolean, "bool", 0, {}, nullptr, 0};
const GoType kString{K::string, "string", 0, {}, nullptr, 0};
const GoType kAny{K::any, "interface {}", 0, {}, nullptr, 0};
const GoType kStrings = container(K::slice, "[]string", &kString);
const GoType kUint64s = container(K::slice, "[]uint64", &kUint64);
const GoType kInts = container(K::slice, "[]int", &kInt);
const GoType kStringPair = container(K::array, "[2]string", &kString, 2);
const GoType kSubstitutePathRules = container(K::slice, "[][2]string", &kStringPair);
const GoType kRedirects = container(K::array, "[3]string", &kString, 3);
const GoType kHitCounts = container(K::map, "map[string]uint64", &kUint64);

const GoType kLoadConfig = structure("api.LoadConfig", {{"FollowPointers", &kBool},
                                                        {"MaxVariableRecurse", &kInt},
                                                        {"MaxStringLen", &kInt},
                                                        {"MaxArrayValues", &kInt},
                                                        {"MaxStructFields", &kInt}});
const GoType kEvalScope = structure(
    "api.EvalScope", {{"GoroutineID", &kInt64}, {"Frame", &kInt}, {"DeferredCall", &kInt}});
const GoType kBreakpoint = structure("api.Breakpoint", {{"id", &kInt},
                                                        {"name", &kString},
                                                        {"addr", &kUint64},
                                                        {"addrs", &kUint64s},
                                                        {"addrpid", &kInts},
                                                        {"file", &kString},
                                                        {"line", &kInt},
                                                        {"functionName", &kString},
                                                        {"Cond", &kString},
                                                        {"HitCond", &kString},
                                                        {"HitCondPerG", &kBool},
                                                        {"continue", &kBool},
                                                        {"traceReturn", &kBool},
                                                        {"goroutine", &kBool},
                                                        {"stacktrace", &kInt},
                                                        {"variables", &kStrings},
                                                        {"LoadArgs", &kLoadConfig},
                                                        {"LoadLocals", &kLoadConfig},
                                                        {"WatchExpr", &kString},
                                                        {"WatchType", &kWatchType},
                                                        {"VerboseDescr", &kStrings},
                                                        {"hitCount", &kHitCounts},
                                                        {"totalHitCount", &kUint64},
                                                        {"disabled", &kBool},
                                                        {"UserData", &kAny}});
const GoType kGoroutineFilter =
    structure("api.ListGoroutinesFilter",
              {{"Kind", &kGoroutineField}, {"Negated", &kBool}, {"Arg", &kString}});
const GoType kGoroutineFilters =
    container(K::slice, "[]api.ListGoroutinesFilter", &kGoroutineFilter);
const GoType kDebuggerCommand =
    structure("api.DebuggerCommand", {{"name", &kString},
                                      {"threadID", &kInt},
                                      {"goroutineID", &kInt64},
                                      {"ReturnInfoLoadConfig", &kLoadConfig},
                                      {"expr", &kString},
                                      {"unsafeCall", &kBool}});

/// The argument type of every method (rpc2's XIn structs; Command takes a DebuggerCommand).
const std::unordered_map<std::string_view, GoType>& methods() {
  static const std::unordered_map<std::string_view, GoType> table = [] {
    std::unordered_map<std::string_view, GoType> m;
    auto in = [&](std::string_view method, std::string_view type,
                  std::initializer_list<std::pair<std::string_view, const GoType*>> fields) {
      m.emplace(method, structure(type, fields));
    };
    in("RPCServer.GetVersion", "api.GetVersionIn", {});
    in("RPCServer.SetApiVersion", "api.SetAPIVersionIn", {{"APIVersion", &kInt}});
    in("RPCServer.IsMulticlient", "rpc2.IsMulticlientIn", {});
    in("RPCServer.ProcessPid", "rpc2.ProcessPidIn", {});
    in("RPCServer.LastModified", "rpc2.LastModifiedIn", {});
    in("RPCServer.Detach", "rpc2.DetachIn", {{"Kill", &kBool}});
    in("RPCServer.Restart", "rpc2.RestartIn",
       {{"Position", &kString},
        {"ResetArgs", &kBool},
        {"NewArgs", &kStrings},
        {"Rerecord", &kBool},
        {"Rebuild", &kBool},
        {"NewRedirects", &kRedirects}});
    in("RPCServer.State", "rpc2.StateIn", {{"NonBlocking", &kBool}});
    m.emplace("RPCServer.Command", kDebuggerCommand);
    in("RPCServer.CreateBreakpoint", "rpc2.CreateBreakpointIn",
       {{"Breakpoint", &kBreakpoint},
        {"LocExpr", &kString},
        {"SubstitutePathRules", &kSubstitutePathRules},
        {"Suspended", &kBool}});
    in("RPCServer.CreateEBPFTracepoint", "rpc2.CreateEBPFTracepointIn",
       {{"FunctionName", &kString}});
    in("RPCServer.ClearBreakpoint", "rpc2.ClearBreakpointIn", {{"Id", &kInt}, {"Name", &kString}});
    in("RPCServer.ToggleBreakpoint", "rpc2.ToggleBreakpointIn",
       {{"Id", &kInt}, {"Name", &kString}});
    in("RPCServer.GetBreakpoint", "rpc2.GetBreakpointIn", {{"Id", &kInt}, {"Name", &kString}});
    in("RPCServer.ListBreakpoints", "rpc2.ListBreakpointsIn", {{"All", &kBool}});
    in("RPCServer.AmendBreakpoint", "rpc2.AmendBreakpointIn", {{"Breakpoint", &kBreakpoint}});
    in("RPCServer.CancelNext", "rpc2.CancelNextIn", {});
    in("RPCServer.ListThreads", "rpc2.ListThreadsIn", {});
    in("RPCServer.GetThread", "rpc2.GetThreadIn", {{"Id", &kInt}});
    in("RPCServer.ListPackageVars", "rpc2.ListPackageVarsIn",
       {{"Filter", &kString}, {"Cfg", &kLoadConfig}});
    in("RPCServer.ListRegisters", "rpc2.ListRegistersIn",
       {{"ThreadID", &kInt}, {"IncludeFp", &kBool}, {"Scope", &kEvalScope}});
    in("RPCServer.ListLocalVars", "rpc2.ListLocalVarsIn",
       {{"Scope", &kEvalScope}, {"Cfg", &kLoadConfig}});
    in("RPCServer.ListFunctionArgs", "rpc2.ListFunctionArgsIn",
       {{"Scope", &kEvalScope}, {"Cfg", &kLoadConfig}});
    in("RPCServer.Eval", "rpc2.EvalIn",
       {{"Scope", &kEvalScope}, {"Expr", &kString}, {"Cfg", &kLoadConfig}});
    in("RPCServer.Set", "rpc2.SetIn",
       {{"Scope", &kEvalScope}, {"Symbol", &kString}, {"Value", &kString}});
    in("RPCServer.ListSources", "rpc2.ListSourcesIn", {{"Filter", &kString}});
    in("RPCServer.ListFunctions", "rpc2.ListFunctionsIn", {{"Filter", &kString}});
    in("RPCServer.ListTypes", "rpc2.ListTypesIn", {{"Filter", &kString}});
    in("RPCServer.ListGoroutines", "rpc2.ListGoroutinesIn",
       {{"Start", &kInt},
        {"Count", &kInt},
        {"Filters", &kGoroutineFilters},
        {"GroupBy", &kGoroutineField},
        {"GroupByKey", &kString},
        {"MaxGroupMembers", &kInt},
        {"MaxGroups", &kInt}});
    in("RPCServer.AttachedToExistingProcess", "rpc2.AttachedToExistingProcessIn", {});
    in("RPCServer.FindLocation", "rpc2.FindLocationIn",
       {{"Scope", &kEvalScope},
        {"Loc", &kString},
        {"IncludeNonExecutableLines", &kBool},
        {"SubstitutePathRules", &kSubstitutePathRules}});
    in("RPCServer.Disassemble", "rpc2.DisassembleIn",
       {{"Scope", &kEvalScope},
        {"StartPC", &kUint64},
        {"EndPC", &kUint64},
        {"Flavour", &kAssemblyFlavour}});
    in("RPCServer.Recorded", "rpc2.RecordedIn", {});
    in("RPCServer.Checkpoint", "rpc2.CheckpointIn", {{"Where", &kString}});
    in("RPCServer.ListCheckpoints", "rpc2.ListCheckpointsIn", {});
    in("RPCServer.ClearCheckpoint", "rpc2.ClearCheckpointIn", {{"ID", &kInt}});
    in("RPCServer.FunctionReturnLocations", "rpc2.FunctionReturnLocationsIn",
       {{"FnName", &kString}});
    in("RPCServer.ListDynamicLibraries", "rpc2.ListDynamicLibrariesIn", {});
    in("RPCServer.ListPackagesBuildInfo", "rpc2.ListPackagesBuildInfoIn",
       {{"IncludeFiles", &kBool}});
    in("RPCServer.StopRecording", "rpc2.StopRecordingIn", {});
    in("RPCServer.DumpStart", "rpc2.DumpStartIn", {{"Destination", &kString}});
    in("RPCServer.DumpWait", "rpc2.DumpWaitIn", {{"Wait", &kInt}});
    in("RPCServer.DumpCancel", "rpc2.DumpCancelIn", {});
    in("RPCServer.CreateWatchpoint", "rpc2.CreateWatchpointIn",
       {{"Scope", &kEvalScope}, {"Expr", &kString}, {"Type", &kWatchType}});
    in("RPCServer.BuildID", "rpc2.BuildIDIn", {});
    in("RPCServer.GetBufferedTracepoints", "rpc2.GetBufferedTracepointsIn", {});
    in("RPCServer.Stacktrace", "rpc2.StacktraceIn",
       {{"Id", &kInt64},
        {"Depth", &kInt},
        {"Full", &kBool},
        {"Defers", &kBool},
        {"Opts", &kStacktraceOptions},
        {"Cfg", &kLoadConfig}});
    in("RPCServer.Ancestors", "rpc2.AncestorsIn",
       {{"GoroutineID", &kInt64}, {"NumAncestors", &kInt}, {"Depth", &kInt}});
    in("RPCServer.ExamineMemory", "rpc2.ExamineMemoryIn",
       {{"Address", &kUint64}, {"Length", &kInt}});
    return m;
  }();
  return table;
}

/// Where the decoder is, for the error text: the innermost struct's name and the JSON keys
/// from the argument struct down (Go's errorContext).
struct Context {
  std::string_view struct_name;
  std::string path;
};

/// What Go's UnmarshalTypeError calls the JSON value. Numbers carry their text only when
/// the target is a number type.
std::string describe(const json::value& v, const GoType& t) {
  return json_value_kind(v, t.kind == K::signed_int || t.kind == K::unsigned_int);
}

[[noreturn]] void mismatch(const json::value& v, const GoType& t, const Context& cx) {
  std::string msg = "json: cannot unmarshal " + describe(v, t) + " into Go ";
  if (cx.struct_name.empty() && cx.path.empty())
    msg += "value";
  else
    msg += "struct field " + std::string(cx.struct_name) + "." + cx.path;
  throw CodecError(msg + " of type " + std::string(t.name));
}

// The types nest a few levels at most (CreateBreakpointIn.SubstitutePathRules[i][j]) and
// unknown keys are not descended into, so this recursion is bounded by the types, not by
// the input's nesting.
void check(const json::value& v, const GoType& t, const Context& cx) {
  if (v.is_null() || t.kind == K::any)
    return;  // null leaves any field zero; interface{} takes any value
  switch (t.kind) {
    case K::signed_int: {
      std::int64_t n = 0;
      if (v.is_int64())
        n = v.get_int64();
      else if (const auto lit = number_literal(v); !(lit && *lit == "-0"))
        mismatch(v, t, cx);
      if (t.bits < 64 &&
          (n < -(std::int64_t{1} << (t.bits - 1)) || n >= (std::int64_t{1} << (t.bits - 1))))
        mismatch(v, t, cx);
      return;
    }
    case K::unsigned_int: {
      std::uint64_t n = 0;
      if (v.is_uint64())
        n = v.get_uint64();
      else if (v.is_int64() && v.get_int64() >= 0)
        n = static_cast<std::uint64_t>(v.get_int64());
      else
        mismatch(v, t, cx);
      if (t.bits < 64 && (n >> t.bits) != 0)
        mismatch(v, t, cx);
      return;
    }
    case K::boolean:
      if (!v.is_bool())
        mismatch(v, t, cx);
      return;
    case K::string:
      if (!v.is_string() || number_literal(v))
        mismatch(v, t, cx);
      return;
    case K::slice:
    case K::array: {
      const auto* a = v.if_array();
      if (a == nullptr)
        mismatch(v, t, cx);
      // An array's extra elements are skipped unread.
      const std::size_t n = t.kind == K::array ? std::min(a->size(), t.length) : a->size();
      for (std::size_t i = 0; i < n; ++i) check((*a)[i], *t.elem, cx);
      return;
    }
    case K::map: {
      const auto* o = v.if_object();
      if (o == nullptr)
        mismatch(v, t, cx);
      for (const auto& kv : *o) check(kv.value(), *t.elem, cx);
      return;
    }
    case K::structure: {
      const auto* o = v.if_object();
      if (o == nullptr)
        mismatch(v, t, cx);
      for (const auto& kv : *o) {
        for (const auto& [key, type] : t.fields) {
          if (!go_fold_equal(kv.key(), key))
            continue;
          const auto dot = t.name.rfind('.');  // reflect's Name(): no package
          Context inner{t.name.substr(dot == std::string_view::npos ? 0 : dot + 1),
                        cx.path.empty() ? std::string(key) : cx.path + "." + std::string(key)};
          check(kv.value(), *type, inner);
          break;
        }
      }
      return;
    }
    case K::any:
      return;
  }
}

}  // namespace

bool is_known_method(std::string_view method) {
  return methods().count(method) != 0;
}

void check_params(std::string_view method, const json::value& args) {
  const auto& table = methods();
  const auto it = table.find(method);
  if (it == table.end())
    return;
  check(args, it->second, Context{});
}

std::vector<std::string_view> checked_methods() {
  std::vector<std::string_view> out;
  for (const auto& [name, type] : methods()) out.push_back(name);
  return out;
}

}  // namespace goscope::rpc
