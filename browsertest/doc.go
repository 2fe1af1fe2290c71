// Package browsertest checks, in a real headless Chromium driven by
// chromedp, what a person sees of the library's pages: the debug page of
// package debugpage, served on a loopback port, and the simulator's HTML
// report, at the widths of common screens.
//
// The tests look for Chromium on the PATH (chromium, chromium-browser,
// google-chrome). Without one they skip, unless CI=true, where a missing
// browser fails them; scripts/test.sh installs Debian's chromium package
// where apt-get is available.
package browsertest
