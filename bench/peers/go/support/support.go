// Package support keeps the contract every workload program keeps (the Go side of
// bench/workloads/bench_support.hpp): `--scale F` multiplies the sizes,
// `--schedulers N` sets GOMAXPROCS (default: left as the environment has it,
// bench/compare passes GOMAXPROCS=2), a checksum line, and last a line
// `RESULT {json}` with "system":"go".
package support

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Arguments are the command-line options every workload takes.
type Arguments struct {
	Scale float64
}

// Parse reads --scale and --schedulers from os.Args, ignoring anything else.
func Parse() Arguments {
	arguments := Arguments{Scale: 1}
	for i := 1; i+1 < len(os.Args); i++ {
		switch os.Args[i] {
		case "--scale":
			if value, err := strconv.ParseFloat(os.Args[i+1], 64); err == nil {
				arguments.Scale = value
			}
		case "--schedulers":
			if value, err := strconv.Atoi(os.Args[i+1]); err == nil && value > 0 {
				runtime.GOMAXPROCS(value)
			}
		}
	}
	return arguments
}

// Scaled multiplies n by the scale, rounding to nearest, at least 1.
func (a Arguments) Scaled(n int64) int64 {
	value := int64(math.Round(float64(n) * a.Scale))
	if value < 1 {
		return 1
	}
	return value
}

// Milliseconds is the elapsed time since start, in milliseconds.
func Milliseconds(start time.Time) float64 {
	return float64(time.Since(start).Nanoseconds()) / 1e6
}

// ResidentBytes is the resident set size of this program, from /proc/self/statm.
func ResidentBytes() int64 {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(statm))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// Parameter is an integer parameter of the workload, written into RESULT.
type Parameter struct {
	Key   string
	Value int64
}

// NewParameter names an integer parameter.
func NewParameter(key string, value int64) Parameter { return Parameter{Key: key, Value: value} }

// Figure is a measured figure, written into RESULT with three decimals.
type Figure struct {
	Key   string
	Value float64
}

// NewFigure names a measured figure.
func NewFigure(key string, value float64) Figure { return Figure{Key: key, Value: value} }

// Report prints the checksum line and the RESULT line.
func Report(workload string, checksumOk bool, arguments Arguments, parameters []Parameter, figures []Figure) {
	verdict := "WRONG"
	if checksumOk {
		verdict = "ok"
	}
	fmt.Printf("checksum %s\n", verdict)
	var json strings.Builder
	fmt.Fprintf(&json, `{"workload":"%s","system":"go","checksum_ok":%t,"schedulers":%d,"scale":%f`,
		workload, checksumOk, runtime.GOMAXPROCS(0), arguments.Scale)
	for _, parameter := range parameters {
		fmt.Fprintf(&json, `,"%s":%d`, parameter.Key, parameter.Value)
	}
	for _, figure := range figures {
		fmt.Fprintf(&json, `,"%s":%.3f`, figure.Key, figure.Value)
	}
	json.WriteString("}")
	fmt.Printf("RESULT %s\n", json.String())
}
