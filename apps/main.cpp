// bcqnmt: the command line. The global flags, parsing and error reporting live here; each
// subcommand declares its own flags and work in apps/command_<name>.cpp (command_line.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/interrupt.h"
#include "apps/log_file.h"
#include "apps/version.h"
#include "core/parallel.h"
#include "optim/data_parallel.h"

using namespace bcqnmt;

namespace {
// Exit statuses (README "Exit status"): 0 done, 1 a run-time failure (missing or corrupt
// file, bad config, a run in the wrong state), 2 a command line that cannot mean anything,
// 130 / 143 stopped by SIGINT / SIGTERM (training commands after saving a checkpoint).
constexpr int kRuntimeError = 1;
constexpr int kUsageError = 2;

// Two mistakes CLI11 words badly, found before it parses:
// - `bcqnmt frob`: CLI11 says only "A subcommand is required"; this names the word and the
//   commands. When no argument names a command, the first one that is neither a flag nor a
//   global flag's value is where a command belongs.
// - `bcqnmt --run R info`: CLI11 says "--run is required"; this says the flag belongs after
//   the command. Only the flags `app` itself declares (GlobalFlags, --help, --version) go
//   before it; they are looked up there, not listed again.
std::string command_line_mistake(int argc, char** argv, const CLI::App& app, const std::vector<Subcommand>& commands) {
  std::string names, first_word, misplaced_flag;
  for (const Subcommand& c : commands) names += (names.empty() ? "" : ", ") + c.app->get_name();
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.rfind("-", 0) == 0) {
      const std::string flag = word.substr(0, word.find('='));
      if (const CLI::Option* global = app.get_option_no_throw(flag)) {
        // A global flag's value is the next word, unless given with '='.
        i += global->get_expected_min() > 0 && word.find('=') == std::string::npos;
      } else if (misplaced_flag.empty()) {
        misplaced_flag = flag;
      }
      continue;
    }
    for (const Subcommand& c : commands)
      if (c.app->get_name() == word)
        return misplaced_flag.empty() ? ""
                                      : kErrorLine + misplaced_flag + " belongs after the command: bcqnmt " +
                                            word + " " + misplaced_flag + " ... (see bcqnmt " + word + " --help)\n";
    if (first_word.empty()) first_word = word;
  }
  if (first_word.empty()) return "";
  return kErrorLine + std::string("unknown command \"") + first_word + "\"; the commands are " + names +
         " (see --help)\n";
}

// What a command wrote to standard output must have arrived: a full disk (`> /dev/full`) or
// a closed stdout (`>&-`) is a failure, not a silent exit 0 with the translations lost.
// std::cout writes through C's stdout (synchronised with stdio), so stdout's error flag and
// its last flush tell.
int checked_stdout(int status) {
  std::cout.flush();
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int reason = errno;
  if (flushed && !std::ferror(stdout) && std::cout.good()) return status;
  std::cerr << kErrorLine << "cannot write to standard output" << (reason ? ": " : "")
            << (reason ? std::strerror(reason) : "") << "\n";
  return status == 0 ? kRuntimeError : status;
}

// The command as typed, for the --log file's header.
std::string command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) line += (i ? " " : "") + std::string(argv[i]);
  return line;
}

// More threads than cores only adds switching: say so once (the run goes on as asked).
void warn_if_oversubscribed(int threads) {
  const unsigned cores = std::thread::hardware_concurrency();
  if (threads > 0 && cores > 0 && static_cast<unsigned>(threads) > cores)
    std::cerr << kWarningLine << "--threads " << threads << " is more than this machine's " << cores
              << " cores; it will run slower, not faster\n";
}

// The flags every command takes, before or after its name.
struct GlobalFlags {
  int threads = 0;
  std::string log_path;
  void add_to(CLI::App* command) {
    command->add_option("--threads", threads, "Threads for BLAS and parallel kernels (default: all cores)")
        ->check(kNonNegativeCount);
    command->add_option("--log", log_path,
                        "Also append everything printed (progress, warnings, errors) to this file, one timestamped "
                        "line each (apps/log_file.h)");
  }
};

// Runs the command the parse chose: its exit status, every error one line on stderr (and in
// the --log file). `typed` is the command line, for the log's header.
int run_parsed_command(const std::vector<Subcommand>& commands, const GlobalFlags& flags, const std::string& typed) {
  std::optional<CommandLog> log;  // outlives the catch blocks, so that errors reach the file too
  try {
    if (!flags.log_path.empty()) log.emplace(flags.log_path, typed);
    warn_if_oversubscribed(flags.threads);
    set_num_threads(flags.threads);
    for (const Subcommand& command : commands) {
      if (!*command.app) continue;
      if (command.checkpoints_on_interrupt) install_interrupt_handlers();
      const int status = command.run();
      DataParallel::finish();  // after an error, no: see optim/data_parallel.h
      return checked_stdout(status);
    }
  } catch (const TrainingInterrupted&) {
    DataParallel::finish();  // every rank agreed to stop and the checkpoint is written
    return checked_stdout(interrupted_exit_status());
  } catch (const std::bad_alloc&) {
    // Its what() is "std::bad_alloc"; what ran out is the command's model, batch or corpus.
    std::cout.flush();
    std::cerr << kErrorLine << "out of memory in `" << typed
              << "`; a smaller model (d_model, dff, num_heads, key_dim, num_layers) or batch needs less\n";
    return kRuntimeError;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');  // one line, always
    std::cerr << kErrorLine << message << "\n";
    return dynamic_cast<const UsageError*>(&e) ? kUsageError : kRuntimeError;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bcqnmt: train a Portuguese->English Transformer, compress it with binary-code-based quantization "
               "(BCQ), and run it fast on a CPU.\nTypical flow: vocab -> pretrain -> quantize -> evaluate; "
               "`pipeline` runs them all."};
  app.require_subcommand(1);
  app.fallthrough();  // --threads may also follow the subcommand
  // One line per error, like every other failure of the tool.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string(kErrorLine) + e.what() + " (see --help)\n";
  });
  app.set_version_flag("--version", version_text);
  GlobalFlags flags;
  flags.add_to(&app);
  const std::vector<Subcommand> commands{add_vocab_command(app),     add_pretrain_command(app),
                                         add_quantize_command(app),  add_evaluate_command(app),
                                         add_translate_command(app), add_info_command(app),
                                         add_pipeline_command(app),  add_plot_command(app),
                                         add_sensitivity_command(app), add_report_command(app),
                                         add_average_command(app),     add_score_command(app),
                                         add_export_command(app),      add_serve_command(app)};
  // Also on each command, so that its --help shows them (before or after the command name).
  for (const Subcommand& command : commands) flags.add_to(command.app);
  if (const std::string mistake = command_line_mistake(argc, argv, app, commands); !mistake.empty()) {
    std::cerr << mistake;
    return kUsageError;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : kUsageError;
  }
  return run_parsed_command(commands, flags, command_line(argc, argv));
}
