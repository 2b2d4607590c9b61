// The tests' judge of what the writers write: replies and events encoded by
// the protocol layer, parsed back with nlohmann_json; and, for byte-exact
// checks, each reply and event built as the JSON document it stands for
// (field order included), which the library's dump() then writes.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "parley/chat/outcome.hpp"
#include "parley/protocol/request.hpp"

namespace parley::test {

using Json = nlohmann::ordered_json;

// What the writers made of it, parsed.
Json written(const RequestId& id, const Reply& reply);
Json written(const Event& event);

// The document it stands for.
Json document(const RequestId& id, const Reply& reply);
Json document(const Event& event);

// The library's own bytes for a document: dump(-1, ' ', false, replace) + LF.
std::string dumped(const Json& document);

}  // namespace parley::test
