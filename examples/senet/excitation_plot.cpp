// The SVG of `senet excite --svg`, written as text: panels of polylines with axes, ticks and a
// legend.

#include "excitation_plot.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace senet_cli {
namespace {

// Matplotlib's "tab10": distinct, readable on white.
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kColorCount = 10;
// Past ten groups the colours repeat, dashed.
const char* const kDashes[] = {"", "6,3", "2,2", "8,3,2,3"};
constexpr int kMaxLegend = 20;  // groups named in the legend; more are drawn but not named

constexpr double kPanelW = 560, kPanelH = 300, kLeft = 62, kRight = 16, kTop = 34, kBottom = 46;
constexpr int kColumns = 2;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

/// A tick label: integers as such, else up to 2 decimals.
std::string tick_label(double v) {
  char buf[32];
  if (std::fabs(v - std::round(v)) < 1e-9)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}

/// About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten).
std::vector<double> ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / std::max(count, 1);
  const double p = std::pow(10.0, std::floor(std::log10(raw > 0 ? raw : 1.0)));
  double step = p;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) {
      step = m * p;
      break;
    }
  std::vector<double> out;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push_back(v);
  return out;
}

/// One panel's frame: axes, ticks, grid, labels; maps data to SVG coordinates.
struct Panel {
  double x0, y0;          // top-left corner of the panel
  double xlo, xhi, ylo, yhi;
  double px(double x) const { return x0 + kLeft + (x - xlo) / (xhi - xlo) * (kPanelW - kLeft - kRight); }
  double py(double y) const { return y0 + kPanelH - kBottom - (y - ylo) / (yhi - ylo) * (kPanelH - kTop - kBottom); }

  void frame(std::ostringstream& svg, const std::string& title, const std::string& xlabel,
             const std::string& ylabel) const {
    const double left = x0 + kLeft, right = x0 + kPanelW - kRight, top = y0 + kTop, bottom = y0 + kPanelH - kBottom;
    svg << "<text x=\"" << num((left + right) / 2) << "\" y=\"" << num(y0 + 20)
        << "\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" << escape(title) << "</text>\n";
    for (double v : ticks(ylo, yhi, 5)) {
      svg << "<line x1=\"" << num(left) << "\" x2=\"" << num(right) << "\" y1=\"" << num(py(v)) << "\" y2=\""
          << num(py(v)) << "\" stroke=\"#e0e0e0\"/>\n";
      svg << "<text x=\"" << num(left - 6) << "\" y=\"" << num(py(v) + 4) << "\" text-anchor=\"end\" font-size=\"11\">"
          << tick_label(v) << "</text>\n";
    }
    for (double v : ticks(xlo, xhi, 8)) {
      svg << "<line x1=\"" << num(px(v)) << "\" x2=\"" << num(px(v)) << "\" y1=\"" << num(bottom) << "\" y2=\""
          << num(bottom + 4) << "\" stroke=\"#333\"/>\n";
      svg << "<text x=\"" << num(px(v)) << "\" y=\"" << num(bottom + 16)
          << "\" text-anchor=\"middle\" font-size=\"11\">" << tick_label(v) << "</text>\n";
    }
    svg << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(right - left) << "\" height=\""
        << num(bottom - top) << "\" fill=\"none\" stroke=\"#333\"/>\n";
    svg << "<text x=\"" << num((left + right) / 2) << "\" y=\"" << num(bottom + 34)
        << "\" text-anchor=\"middle\" font-size=\"12\">" << escape(xlabel) << "</text>\n";
    svg << "<text transform=\"translate(" << num(x0 + 16) << "," << num((top + bottom) / 2)
        << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" << escape(ylabel) << "</text>\n";
  }

  void line(std::ostringstream& svg, const std::vector<double>& xs, const std::vector<double>& ys, int style) const {
    svg << "<polyline fill=\"none\" stroke=\"" << kColors[style % kColorCount] << "\" stroke-width=\"1.3\"";
    if (*kDashes[(style / kColorCount) % 4]) svg << " stroke-dasharray=\"" << kDashes[(style / kColorCount) % 4] << "\"";
    svg << " points=\"";
    for (std::size_t i = 0; i < xs.size(); ++i) svg << num(px(xs[i])) << "," << num(py(ys[i])) << " ";
    svg << "\"/>\n";
  }
};

/// The legend: one swatch and name per entry, in rows across `width`; returns its height.
double legend(std::ostringstream& svg, const std::vector<std::string>& names, double y, double width) {
  const double item = 150, row = 18;
  const int per_row = std::max(1, int((width - 40) / item));
  const int shown = std::min<int>(int(names.size()), kMaxLegend);
  for (int i = 0; i < shown; ++i) {
    const double x = 20 + (i % per_row) * item, yy = y + (i / per_row) * row;
    svg << "<line x1=\"" << num(x) << "\" x2=\"" << num(x + 22) << "\" y1=\"" << num(yy) << "\" y2=\"" << num(yy)
        << "\" stroke=\"" << kColors[i % kColorCount] << "\" stroke-width=\"2.5\"";
    if (*kDashes[(i / kColorCount) % 4]) svg << " stroke-dasharray=\"" << kDashes[(i / kColorCount) % 4] << "\"";
    svg << "/>\n<text x=\"" << num(x + 28) << "\" y=\"" << num(yy + 4) << "\" font-size=\"12\">" << escape(names[std::size_t(i)])
        << "</text>\n";
  }
  int rows = (shown + per_row - 1) / per_row;
  if (int(names.size()) > shown) {
    svg << "<text x=\"20\" y=\"" << num(y + rows * row + 4) << "\" font-size=\"12\">... and "
        << names.size() - std::size_t(shown) << " more</text>\n";
    ++rows;
  }
  return rows * row + 8;
}

}  // namespace

std::string stage_of(const std::string& block) {
  const auto dot = block.find('.');
  if (dot != std::string::npos) return block.substr(0, dot);
  if (block.size() >= 2 && std::isalpha(static_cast<unsigned char>(block.back())) &&
      std::isdigit(static_cast<unsigned char>(block[block.size() - 2])))
    return block.substr(0, block.size() - 1);
  return block;
}

std::string excitation_svg(const std::vector<BlockExcitations>& blocks, const std::vector<int>& group,
                           const std::vector<std::string>& group_names, const std::string& title) {
  const double width = kColumns * kPanelW + 20;
  // Only groups with samples are drawn and named, each in its own style.
  std::vector<int> style(group_names.size(), -1);
  std::vector<std::string> shown;
  for (const int g : group) style[std::size_t(g)] = 0;
  for (std::size_t g = 0; g < group_names.size(); ++g)
    if (style[g] == 0) {
      style[g] = int(shown.size());
      shown.push_back(group_names[g]);
    }
  std::ostringstream body;
  double y = 36;
  body << "<text x=\"20\" y=\"24\" font-size=\"16\" font-weight=\"bold\">" << escape(title) << "</text>\n";
  y += legend(body, shown, y, width);

  // Mean excitation per channel and group, one panel per block.
  double lo = 0, hi = 1;  // sigmoid gates: [0, 1]; other gates widen it
  for (const auto& b : blocks)
    for (const float v : b.gates) {
      lo = std::min(lo, double(v));
      hi = std::max(hi, double(v));
    }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    const senet::Index N = b.gates.dim(0), C = b.gates.dim(1);
    const Panel panel{10 + double(i % kColumns) * kPanelW, y + double(i / kColumns) * kPanelH, 0,
                      double(std::max<senet::Index>(C - 1, 1)), lo, hi};
    panel.frame(body, b.block + " (" + std::to_string(C) + " channels)", "channel", "mean excitation");
    std::vector<double> xs(static_cast<std::size_t>(C));
    for (senet::Index c = 0; c < C; ++c) xs[std::size_t(c)] = double(c);
    for (std::size_t g = 0; g < group_names.size(); ++g) {
      std::vector<double> mean(static_cast<std::size_t>(C), 0.0);
      senet::Index count = 0;
      for (senet::Index n = 0; n < N; ++n) {
        if (group[std::size_t(n)] != int(g)) continue;
        ++count;
        for (senet::Index c = 0; c < C; ++c) mean[std::size_t(c)] += b.gates[n * C + c];
      }
      if (count == 0) continue;
      for (double& m : mean) m /= double(count);
      panel.line(body, xs, mean, style[g]);
    }
  }
  y += double((blocks.size() + kColumns - 1) / kColumns) * kPanelH + 10;

  // Distribution of every excitation value, per stage: the share of values in each of 50 bins.
  std::vector<std::string> stages;
  std::map<std::string, std::vector<double>> histogram;
  constexpr int kBins = 50;
  for (const auto& b : blocks) {
    const std::string s = stage_of(b.block);
    if (!histogram.count(s)) {
      stages.push_back(s);
      histogram[s].assign(kBins, 0.0);
    }
    for (const float v : b.gates) {
      const int bin = std::clamp(int((double(v) - lo) / (hi - lo) * kBins), 0, kBins - 1);
      histogram[s][std::size_t(bin)] += 1;
    }
  }
  double peak = 0;
  for (auto& [s, h] : histogram) {
    double total = 0;
    for (double c : h) total += c;
    for (double& c : h) c /= std::max(total, 1.0);
    peak = std::max(peak, *std::max_element(h.begin(), h.end()));
  }
  const Panel dist{10, y + 24, lo, hi, 0, std::max(peak * 1.05, 1e-3)};
  body << "<text x=\"20\" y=\"" << num(y + 12) << "\" font-size=\"13\">Distribution of excitations per stage</text>\n";
  dist.frame(body, "share of values per bin (" + std::to_string(kBins) + " bins)", "excitation", "share");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    std::vector<double> xs, ys;
    for (int k = 0; k < kBins; ++k) {
      xs.push_back(lo + (k + 0.5) * (hi - lo) / kBins);
      ys.push_back(histogram[stages[i]][std::size_t(k)]);
    }
    dist.line(body, xs, ys, int(i));
  }
  // The stage legend beside the distribution panel.
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const double lx = 10 + kPanelW + 20, ly = y + 60 + double(i) * 20;
    body << "<line x1=\"" << num(lx) << "\" x2=\"" << num(lx + 22) << "\" y1=\"" << num(ly) << "\" y2=\"" << num(ly)
         << "\" stroke=\"" << kColors[i % kColorCount] << "\" stroke-width=\"2.5\"/>\n<text x=\"" << num(lx + 28)
         << "\" y=\"" << num(ly + 4) << "\" font-size=\"12\">" << escape(stages[i]) << "</text>\n";
  }
  y += 24 + kPanelH + 10;

  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width)
      << "\" height=\"" << num(y) << "\" viewBox=\"0 0 " << num(width) << " " << num(y)
      << "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << body.str() << "</svg>\n";
  return svg.str();
}

}  // namespace senet_cli
