// bcqnmt serve: the model behind an HTTP server (cpp-httplib) with a JSON API and a web page.
//   GET  /           the page (apps/web/index.html, compiled in): Portuguese in, English and
//                    the cross-attention map out
//   GET  /health     {"status": "ok", "model", "bits_per_weight", "bit_allocation", "version"}
//   POST /translate  {"text": ["...", ...], "beam": 1, "n_best": 1, "attention": false,
//                    "format": "readable" (default) or "tokenized", as translate --format} ->
//                    {"translations": [...], "scores": [...], "warnings": [...],
//                     "n_best": [[{"text", "score"}]] (n_best > 1),
//                     "attention": [{"source", "target", "weights"}] (attention: true),
//                     "timing_ms": {...}, "batched_requests"}
//   One entry per sentence in each list, as `translate` answers a line: a blank (empty or
//   whitespace-only) sentence gets "" with score 0 and an empty attention map; a sentence
//   longer than the model reads is cut and named in "warnings" ("text[i]: N wordpieces, cut
//   to the model's M"). An empty "text" gets empty lists.
// Errors are JSON {"error": "..."}: 400 for malformed JSON, wrong types, unknown fields or
// too many sentences, 413 for a body over --max-request-bytes (httplib refuses it before
// reading), 405 for GET /translate, 404 for other paths. Requests are batched
// (apps/translation_queue.h). SIGINT/SIGTERM: answer every connection already accepted
// (served or queued for a worker), waiting up to kDrainLimit for them, stop accepting, exit
// 130/143 (apps/interrupt.h).
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "apps/app_error.h"
#include "apps/command_line.h"
#include "apps/commands.h"
#include "apps/interrupt.h"
#include "apps/translation_queue.h"
#include "apps/version.h"
#include "data/readable_english.h"
#include "nn/json_file.h"
#include "bcqnmt_web_page.h"  // kWebPage: apps/web/index.html, built in (cmake/embed_file.cmake)

namespace bcqnmt {

namespace {

// A request the API refuses; the message goes back as {"error": message}.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr int kMaxBeam = 16;  // per request: a wide beam costs every other request its latency

int integer_field(const nlohmann::json& body, const char* name, int fallback, int low, int high) {
  if (!body.contains(name)) return fallback;
  const nlohmann::json& v = body.at(name);
  if (!v.is_number_integer() || v.get<int64_t>() < low || v.get<int64_t>() > high)
    throw BadRequest(std::string("\"") + name + "\" must be an integer from " + std::to_string(low) + " to " +
                     std::to_string(high));
  return v.get<int>();
}

TranslationRequest parse_request(const std::string& body_text, const ServeOptions& o) {
  // Not parse_json_text's own words: they may quote the body's bytes, which need not be UTF-8,
  // and a JSON answer holds UTF-8 only.
  nlohmann::json body;
  if (!parse_json_text(body_text, "the body", body).empty())
    throw BadRequest("the body is not valid JSON (UTF-8, nested at most " + std::to_string(kMaxJsonDepth) + " levels)");
  if (!body.is_object()) throw BadRequest("the body must be a JSON object with \"text\": [\"...\", ...]");
  for (const auto& [key, value] : body.items())
    if (key != "text" && key != "beam" && key != "n_best" && key != "attention" && key != "format")
      throw BadRequest("unknown field \"" + key + "\" (the fields: text, beam, n_best, attention, format)");
  if (!body.contains("text") || !body["text"].is_array())
    throw BadRequest("\"text\" must be an array of Portuguese sentences");
  TranslationRequest r;
  if (body["text"].size() > static_cast<size_t>(o.max_sentences))
    throw BadRequest("at most " + std::to_string(o.max_sentences) + " sentences per request, got " +
                     std::to_string(body["text"].size()));
  for (const nlohmann::json& s : body["text"]) {
    if (!s.is_string()) throw BadRequest("\"text\" must hold strings only");
    r.text.push_back(s.get<std::string>());
  }
  r.options.beam_size = integer_field(body, "beam", 1, 1, kMaxBeam);
  r.options.n_best = integer_field(body, "n_best", 1, 1, kMaxBeam);
  if (r.options.n_best > r.options.beam_size)
    throw BadRequest("\"n_best\": " + std::to_string(r.options.n_best) + " needs \"beam\": " +
                     std::to_string(r.options.n_best) + " or more");
  if (body.contains("attention") && !body["attention"].is_boolean())
    throw BadRequest("\"attention\" must be true or false");
  r.attention = body.value("attention", false);
  if (body.contains("format")) {
    const std::optional<OutputFormat> format =
        body["format"].is_string() ? output_format_names().find(body["format"]) : std::nullopt;
    if (!format) throw BadRequest("\"format\" must be " + output_format_names().choices());
    r.format = *format;
  }
  return r;
}

nlohmann::json response_json(const TranslationResult& result, const TranslationRequest& request, double total_ms) {
  nlohmann::json out{{"translations", nlohmann::json::array()},
                     {"scores", nlohmann::json::array()},
                     {"warnings", result.warnings}};
  if (request.options.n_best > 1) out["n_best"] = nlohmann::json::array();
  if (request.attention) out["attention"] = nlohmann::json::array();
  // As `translate` prints them: readable English unless the request asks for the corpus's form.
  const auto shown = [&](const std::string& text) {
    return request.format == OutputFormat::readable ? readable_english(text) : text;
  };
  for (const std::vector<ScoredText>& decoded : result.hypotheses) {
    // A blank sentence was not decoded: one empty translation scored 0, as `translate` writes it.
    const std::vector<ScoredText> hypotheses = decoded.empty() ? std::vector<ScoredText>(1) : decoded;
    out["translations"].push_back(shown(hypotheses.front().text));
    out["scores"].push_back(hypotheses.front().score);
    if (request.options.n_best <= 1) continue;
    nlohmann::json list = nlohmann::json::array();
    for (const ScoredText& h : hypotheses) list.push_back({{"text", shown(h.text)}, {"score", h.score}});
    out["n_best"].push_back(list);
  }
  for (const AttentionMap& a : result.attention)
    out["attention"].push_back({{"source", a.source}, {"target", a.target}, {"weights", a.weights}});
  out["timing_ms"] = {{"queue", result.queue_ms}, {"decode", result.decode_ms}, {"total", total_ms}};
  out["batched_requests"] = result.batch_requests;
  return out;
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

// The 400 for a request without a readable body, whether httplib refuses it before routing
// or the handler finds nothing to read.
constexpr const char* kUnreadableRequest =
    "the request could not be read: POST /translate takes a JSON body {\"text\": [...]} with a Content-Length";

std::string too_large_message(const ServeOptions& o) {
  return "the body is over " + std::to_string(o.max_request_bytes) + " bytes";
}

// httplib's thread pool, counting the connections it holds (queued for a worker or being
// served), so that a stop can wait for them: after httplib's stop(), a queued connection's job
// returns without reading its request. With 12 clients and 8 workers, 4 got an empty reply.
class CountingTaskQueue : public httplib::TaskQueue {
 public:
  explicit CountingTaskQueue(size_t threads) : pool_(threads) {}
  void enqueue(std::function<void()> fn) override {
    held_.fetch_add(1);
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      held_.fetch_sub(1);
    });
  }
  void shutdown() override { pool_.shutdown(); }
  int held() const { return held_.load(); }

 private:
  httplib::ThreadPool pool_;
  std::atomic<int> held_{0};
};

// The longest a stop waits for the connections already accepted before it stops accepting. A
// connection is held while its client sends requests, and for set_keep_alive_timeout (1 s)
// after the last; a worker still reading a slow client's request is waited for after that.
constexpr auto kDrainLimit = std::chrono::seconds(30);

void add_routes(httplib::Server& server, TranslationQueue& queue, const nlohmann::json& health, const ServeOptions& o) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kWebPage, sizeof kWebPage - 1, "text/html; charset=utf-8");
  });
  server.Get("/health", [&health](const httplib::Request&, httplib::Response& res) { send_json(res, 200, health); });
  const auto post_only = [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "POST");
    send_json(res, 405, {{"error", "translate with POST /translate and a JSON body {\"text\": [...]}"}});
  };
  // As content-reader handlers, the other methods are answered without reading a body first
  // (a PUT without a length waited out the read timeout, then got 400).
  const auto post_only_unread = [post_only](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader&) { post_only(req, res); };
  server.Get("/translate", post_only);
  server.Put("/translate", post_only_unread);
  server.Patch("/translate", post_only_unread);
  server.Delete("/translate", post_only_unread);
  // The body is read through a content reader: httplib's own reading refuses a form-encoded
  // body (`curl -d`'s default Content-Type) over 8 KiB with a 413 of its own, a limit compiled
  // into Debian's libcpp-httplib; the one size limit is --max-request-bytes
  // (set_payload_max_length, which applies to content readers too).
  server.Post("/translate", [&queue, &o](const httplib::Request& req, httplib::Response& res,
                                         const httplib::ContentReader& read_body) {
    const auto start = std::chrono::steady_clock::now();
    // Neither a length nor chunks: HTTP/1.1 gives such a request no body (RFC 9112, 6.3), so
    // answer now rather than read until httplib's 5 s read timeout.
    const bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
    if (!req.has_header("Content-Length") && !chunked) {
      send_json(res, 400, {{"error", kUnreadableRequest}});
      return;
    }
    std::string body;
    const bool whole = read_body([&body](const char* data, size_t length) {
      body.append(data, length);
      return true;
    });
    if (!whole) {  // httplib set 413 when the body is over the limit
      const bool too_large = res.status == 413;
      send_json(res, too_large ? 413 : 400, {{"error", too_large ? too_large_message(o) : kUnreadableRequest}});
      return;
    }
    TranslationRequest request;
    try {
      request = parse_request(body, o);
    } catch (const BadRequest& e) {
      send_json(res, 400, {{"error", e.what()}});
      return;
    }
    const TranslationResult result = queue.submit(request).get();
    const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    send_json(res, 200, response_json(result, request, total_ms));
  });
  // httplib's own refusals (413 before reading an oversized body, 404) and failures get a
  // JSON body too; a handler that threw is a 500 naming the error.
  server.set_error_handler([&o](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    // 400 before routing: httplib could not read the request, e.g. a POST with neither a
    // Content-Length nor a chunked body (`curl -X POST` without -d).
    const std::string message =
        res.status == 413   ? too_large_message(o)
        : res.status == 404 ? "no such path; the paths: GET /, GET /health, POST /translate"
        : res.status == 400 ? kUnreadableRequest
                            : "HTTP status " + std::to_string(res.status);
    send_json(res, res.status, {{"error", message}});
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
    std::string message = "internal error";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& error) {
      message = error.what();
    } catch (...) {
    }
    send_json(res, 500, {{"error", message}});
  });
}

}  // namespace

int run_serve(const ServeOptions& o, std::ostream& out) {
  LoadedModel model = load_model(o.run, o.bundle, o.model);
  nlohmann::json health = model.description;
  health["status"] = "ok";
  health["version"] = version_line();
  TranslationQueue queue(model, std::chrono::microseconds(static_cast<int64_t>(o.batch_window_ms * 1000.0)));

  httplib::Server server;
  server.set_payload_max_length(static_cast<size_t>(o.max_request_bytes));
  server.set_keep_alive_timeout(1);  // an idle browser connection holds a stop up to this long
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second server on a
  // port in use starts without a word and the kernel splits the connections between them.
  socket_t listening = INVALID_SOCKET;
  server.set_socket_options([&listening](socket_t socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening = socket;
  });
  add_routes(server, queue, health, o);
  const int port = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) throw AppError("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or not an address of this machine)");
  // httplib listens with a backlog of 5: in a burst of 12 clients, the connections past it lost
  // their SYN and retried 1 s later (Linux). Listening again only raises the backlog.
  if (listening != INVALID_SOCKET) ::listen(listening, SOMAXCONN);
  out << "serving " << health["model"].get<std::string>() << " on http://" << o.host << ":" << port
      << "/ (POST /translate, GET /health; Ctrl-C stops)" << std::endl;

  std::atomic<CountingTaskQueue*> tasks{nullptr};  // made by listen, which deletes it when it returns
  server.new_task_queue = [&tasks] {
    auto* q = new CountingTaskQueue(CPPHTTPLIB_THREAD_POOL_COUNT);
    tasks.store(q);
    return q;
  };
  std::atomic<bool> listen_returned{false};
  std::thread listener([&] {
    server.listen_after_bind();
    listen_returned.store(true);
  });
  // The signal handler only sets a flag (apps/interrupt.h); this thread acts on it.
  while (!interrupt_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // A stop() before the listener runs does nothing (httplib 0.11), and the join below then
  // waited for ever: a SIGTERM while the model loaded left the server running.
  while (!server.is_running() && !listen_returned.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto drain_end = std::chrono::steady_clock::now() + kDrainLimit;
  for (CountingTaskQueue* q = tasks.load(); q && q->held() > 0 && std::chrono::steady_clock::now() < drain_end;)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  server.stop();    // stop accepting; the connections still held are answered first
  listener.join();  // returns once they are
  queue.stop();
  out << "serve: stopped by signal after finishing the requests in flight" << std::endl;
  throw TrainingInterrupted{};  // main() exits 130 / 143
}

Subcommand add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* c = app.add_subcommand("serve", "HTTP server: JSON API (POST /translate, GET /health) and a web page at /");
  c->footer("POST /translate {\"text\": [...], \"beam\" (1-" + std::to_string(kMaxBeam) +
            "), \"n_best\" (1-beam), \"attention\", \"format\"} answers \"translations\", \"scores\", "
            "\"warnings\" (and \"n_best\", \"attention\" when asked), one entry per sentence: a blank sentence gets "
            "\"\" with score 0; one longer than the model reads is cut and named in \"warnings\". GET /health. "
            "Errors: {\"error\": ...} with 400, 404, 405 or 413 (README, \"Serving and bundles\").");
  add_model_source_flags(c, o->run, o->bundle, o->model);
  c->add_option("--host", o->host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  c->add_option("--port", o->port, "TCP port (0: any free one, printed)")->capture_default_str()->check(CLI::Range(0, 65535));
  c->add_option("--max-request-bytes", o->max_request_bytes, "Largest request body; larger ones get 413")
      ->capture_default_str()
      ->check(kPositiveCount);
  c->add_option("--max-sentences", o->max_sentences, "Most sentences in one request; more get 400")
      ->capture_default_str()
      ->check(kPositiveCount);
  c->add_option("--batch-window-ms", o->batch_window_ms,
                "How long the decoder waits after a request for others to decode in the same batch (ms)")
      ->capture_default_str()
      ->check(number_between(0.0, 1000.0));
  // SIGINT/SIGTERM set a flag that run_serve acts on (a graceful stop), as training does.
  return {c, [o] { return run_serve(*o, std::cout); }, /*checkpoints_on_interrupt=*/true};
}

}  // namespace bcqnmt
