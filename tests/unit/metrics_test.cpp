// The histogram's Prometheus text exposition: one cumulative _bucket line
// per bound ("le" inclusive) and one for +Inf, then _sum and _count, with
// the labels joined to "le" or braced alone; and label value escaping.
#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>

#include <string>

#include "metrics.hpp"

using replug::histogram;
using replug::label_value;

namespace {

std::string text_of(const histogram& h, std::string_view name, std::string_view labels) {
    std::string out;
    h.write(out, name, labels);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_empty_histogram_without_labels) {
    histogram latency(histogram::latency_buckets);
    BOOST_TEST(text_of(latency, "x", "") ==
               "x_bucket{le=\"0.0005\"} 0\n"
               "x_bucket{le=\"0.001\"} 0\n"
               "x_bucket{le=\"0.0025\"} 0\n"
               "x_bucket{le=\"0.005\"} 0\n"
               "x_bucket{le=\"0.01\"} 0\n"
               "x_bucket{le=\"0.025\"} 0\n"
               "x_bucket{le=\"0.05\"} 0\n"
               "x_bucket{le=\"0.1\"} 0\n"
               "x_bucket{le=\"0.25\"} 0\n"
               "x_bucket{le=\"0.5\"} 0\n"
               "x_bucket{le=\"1\"} 0\n"
               "x_bucket{le=\"2.5\"} 0\n"
               "x_bucket{le=\"+Inf\"} 0\n"
               "x_sum 0\n"
               "x_count 0\n");
}

BOOST_AUTO_TEST_CASE(buckets_are_cumulative_and_a_bound_is_inclusive) {
    histogram latency(histogram::latency_buckets);
    latency.observe(0.0005);  // on the first bound: counted in it
    latency.observe(0.25);    // on a bound
    latency.observe(0.3);     // between 0.25 and 0.5
    latency.observe(2);       // between 1 and 2.5
    latency.observe(10);      // above the last bound: +Inf only
    BOOST_TEST(text_of(latency, "replug_request_duration_seconds", "route=\"/echo/*\"") ==
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.0005\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.001\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.0025\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.005\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.01\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.025\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.05\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.1\"} 1\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.25\"} 2\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"0.5\"} 3\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"1\"} 3\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"2.5\"} 4\n"
               "replug_request_duration_seconds_bucket{route=\"/echo/*\",le=\"+Inf\"} 5\n"
               "replug_request_duration_seconds_sum{route=\"/echo/*\"} 12.5505\n"
               "replug_request_duration_seconds_count{route=\"/echo/*\"} 5\n");
}

BOOST_AUTO_TEST_CASE(several_labels_stay_in_order_before_le) {
    histogram latency(histogram::latency_buckets);
    latency.observe(0.004);
    std::string text = text_of(latency, "x", "route=\"/p\",module=\"p\"");
    BOOST_TEST(text.find("x_bucket{route=\"/p\",module=\"p\",le=\"0.005\"} 1\n") != std::string::npos, text);
    BOOST_TEST(text.find("x_sum{route=\"/p\",module=\"p\"} 0.004\n") != std::string::npos, text);
    BOOST_TEST(text.find("x_count{route=\"/p\",module=\"p\"} 1\n") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(small_bounds_are_written_without_an_exponent) {
    histogram swap(histogram::swap_buckets);
    std::string text = text_of(swap, "s", "");
    BOOST_TEST(text.starts_with("s_bucket{le=\"0.0001\"} 0\ns_bucket{le=\"0.00025\"} 0\n"), text);
    BOOST_TEST(text.find("s_bucket{le=\"1\"} 0\ns_bucket{le=\"+Inf\"} 0\n") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(write_appends_to_what_is_there) {
    histogram latency(histogram::latency_buckets);
    std::string out = "# TYPE x histogram\n";
    latency.write(out, "x", "");
    BOOST_TEST(out.starts_with("# TYPE x histogram\nx_bucket{le=\"0.0005\"} 0\n"), out);
    BOOST_TEST(out.ends_with("x_count 0\n"), out);
}

BOOST_AUTO_TEST_CASE(label_values_escape_backslash_quote_and_newline) {
    BOOST_TEST(label_value("/echo/*") == "/echo/*");
    BOOST_TEST(label_value("") == "");
    BOOST_TEST(label_value("a\\b") == "a\\\\b");
    BOOST_TEST(label_value("say \"hi\"") == "say \\\"hi\\\"");
    BOOST_TEST(label_value("one\ntwo") == "one\\ntwo");
    BOOST_TEST(label_value("\\\"\n") == "\\\\\\\"\\n");
    BOOST_TEST(label_value("tab\there, caf\xc3\xa9") == "tab\there, caf\xc3\xa9");  // nothing else changes
}

// The exposition format is UTF-8: a route or version with bytes that are
// not (a file name on Linux may hold any) must still give a valid label.
BOOST_AUTO_TEST_CASE(label_values_are_valid_utf8) {
    BOOST_TEST(replug::label_value("/caf\xc3\xa9") == "/caf\xc3\xa9");
    BOOST_TEST(replug::label_value("/a\xff\"") == "/a\xc3\xbf\\\"");
    BOOST_TEST(replug::label_value("\xc0\xaf") == "\xc3\x80\xc2\xaf");  // overlong: each byte on its own
}
