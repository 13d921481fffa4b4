#include "plugins/cli/proto_json.h"

#include "google/protobuf/descriptor.h"

namespace vnas::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void WriteValue(const Message& msg, const FieldDescriptor* f, int index, JsonWriter* w) {
  const Reflection* r = msg.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      w->Int(rep ? r->GetRepeatedInt32(msg, f, index) : r->GetInt32(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      w->Int(rep ? r->GetRepeatedInt64(msg, f, index) : r->GetInt64(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      w->Uint(rep ? r->GetRepeatedUInt32(msg, f, index) : r->GetUInt32(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      w->Uint(rep ? r->GetRepeatedUInt64(msg, f, index) : r->GetUInt64(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      w->Double(rep ? r->GetRepeatedDouble(msg, f, index) : r->GetDouble(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      w->Double(rep ? r->GetRepeatedFloat(msg, f, index) : r->GetFloat(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      w->Bool(rep ? r->GetRepeatedBool(msg, f, index) : r->GetBool(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(msg, f, index) : r->GetEnumValue(msg, f);
      const auto* ev = f->enum_type()->FindValueByNumber(v);
      if (ev != nullptr) {
        w->String(ev->name());
      } else {
        w->Int(v);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      w->String(rep ? r->GetRepeatedString(msg, f, index) : r->GetString(msg, f));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      WriteProto(rep ? r->GetRepeatedMessage(msg, f, index) : r->GetMessage(msg, f), w);
      break;
  }
}

}  // namespace

void WriteProto(const Message& msg, JsonWriter* w) {
  const auto* d = msg.GetDescriptor();
  const Reflection* r = msg.GetReflection();
  w->BeginObject();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    w->Key(f->name());
    if (f->is_repeated()) {
      w->BeginArray();
      for (int j = 0; j < r->FieldSize(msg, f); ++j) WriteValue(msg, f, j, w);
      w->EndArray();
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !r->HasField(msg, f)) {
      w->Null();
    } else {
      WriteValue(msg, f, 0, w);
    }
  }
  w->EndObject();
}

std::string ProtoToJson(const Message& msg, bool pretty) {
  JsonWriter w(pretty);
  WriteProto(msg, &w);
  return w.str();
}

}  // namespace vnas::cli
