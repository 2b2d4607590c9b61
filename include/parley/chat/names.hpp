// Nick and channel names: syntax and the ASCII case folding used to compare them.
#pragma once

#include <string>
#include <string_view>

namespace parley {

inline constexpr std::size_t max_nick_length = 32;
inline constexpr std::size_t max_channel_length = 64;

// 1-32 of A-Z a-z 0-9 _ -, not starting with a digit or '-'.
bool is_valid_nick(std::string_view nick);

// 1-64 of A-Z a-z 0-9 _ - . #
bool is_valid_channel(std::string_view channel);

// ASCII lowercase: the key under which nicks and channels are compared and sorted.
std::string fold(std::string_view name);

// fold(name) == key, without building fold(name).
bool names_match(std::string_view name, std::string_view key);

}  // namespace parley
