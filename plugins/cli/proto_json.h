// proto_json.h — any protobuf message as JSON through JsonWriter, for
// vnasctl --json.
//
// Unlike protobuf's JSON mapping, 64-bit integers are written as JSON
// numbers (jq and Python read them exactly), field names stay in proto
// snake_case, enums are written by name and every field is present (proto3
// defaults included), so scripts can rely on the shape.
#ifndef VNAS_PLUGINS_CLI_PROTO_JSON_H_
#define VNAS_PLUGINS_CLI_PROTO_JSON_H_

#include <string>

#include "google/protobuf/message.h"
#include "plugins/cli/json_writer.h"

namespace vnas::cli {

// Writes `msg` as one JSON object value into `w`.
void WriteProto(const google::protobuf::Message& msg, JsonWriter* w);

// `msg` as a JSON document (pretty when asked).
std::string ProtoToJson(const google::protobuf::Message& msg, bool pretty = true);

}  // namespace vnas::cli

#endif  // VNAS_PLUGINS_CLI_PROTO_JSON_H_
