// `heatkit backends [--json]`: every backend this build knows, whether it can
// run on this machine, and why not.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <heatkit/backend.h>
#include "tools/command.h"

namespace heatkit::cli {
namespace {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

void print_json(const std::vector<BackendInfo>& backends, std::ostream& out) {
  out << "{\"default\": " << json_string(default_backend()) << ", \"backends\": [";
  for (std::size_t i = 0; i < backends.size(); ++i) {
    const BackendInfo& b = backends[i];
    out << (i == 0 ? "\n  " : ",\n  ") << "{\"name\": " << json_string(b.name)
        << ", \"available\": " << (b.available ? "true" : "false")
        << ", \"forward_decay\": " << (b.forward_decay ? "true" : "false")
        << ", \"description\": " << json_string(b.description)
        << ", \"unavailable_reason\": " << json_string(b.unavailable_reason) << "}";
  }
  out << (backends.empty() ? "]}\n" : "\n]}\n");
}

void print_table(const std::vector<BackendInfo>& backends, std::ostream& out) {
  std::size_t width = 4;  // "NAME"
  for (const BackendInfo& b : backends) width = std::max(width, b.name.size());
  auto padded = [width](std::string_view s) {
    return std::string(s) + std::string(width + 2 - s.size(), ' ');
  };
  out << padded("NAME") << "AVAILABLE  DESCRIPTION\n";
  for (const BackendInfo& b : backends) {
    out << padded(b.name) << (b.available ? "yes        " : "no         ") << b.description;
    if (!b.available) out << " (cannot run here: " << b.unavailable_reason << ")";
    if (b.name == default_backend()) out << " [default]";
    out << '\n';
  }
}

}  // namespace

RunFn add_backends_command(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("backends", "list the backends and whether they can run here");
  cmd->add_flag("--json", *json, "print JSON: {default, backends: [{name, available, description, "
                                 "unavailable_reason}]}");
  cmd->footer(std::string("\n") + kExitStatusHelp);
  return [json]() -> int {
    const std::vector<BackendInfo> backends = list_backends();
    if (*json) {
      print_json(backends, std::cout);
    } else {
      print_table(backends, std::cout);
    }
    return kExitSuccess;  // main checks that stdout took it all
  };
}

}  // namespace heatkit::cli
