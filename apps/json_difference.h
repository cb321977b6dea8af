#pragma once
// What differs between two JSON settings objects, as one line a user can act on:
// "bits.encoder_ffn 3 vs 2, mode \"ste\" vs \"ptq\"" (RFC 6902 diff paths, '/' written '.').
// Used wherever a run refuses settings that differ from the ones it was made with.
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace bcqnmt {

// "" when equal; otherwise each differing key with its value in `before` and in `after`
// (null for a key one side lacks).
std::string describe_json_differences(const nlohmann::json& before, const nlohmann::json& after);

}  // namespace bcqnmt
