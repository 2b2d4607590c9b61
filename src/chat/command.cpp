#include "parley/chat/command.hpp"

namespace parley {

std::string_view command_name(CommandKind kind) {
  switch (kind) {
    case CommandKind::unknown: return "unknown";
    case CommandKind::hello: return "hello";
    case CommandKind::nick: return "nick";
    case CommandKind::join: return "join";
    case CommandKind::part: return "part";
    case CommandKind::say: return "say";
    case CommandKind::msg: return "msg";
    case CommandKind::topic: return "topic";
    case CommandKind::list: return "list";
    case CommandKind::members: return "members";
    case CommandKind::history: return "history";
    case CommandKind::ping: return "ping";
    case CommandKind::quit: return "quit";
  }
  return "unknown";
}

}  // namespace parley
