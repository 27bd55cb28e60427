package project

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Seconds is a whole number of seconds, written as a number (30) or a Go
// duration ("30s", "2m"). It is also a pflag.Value.
type Seconds int32

// ParseSeconds reads "30", "30s" or "1m30s".
func ParseSeconds(s string) (Seconds, error) {
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return Seconds(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of seconds or a duration like 30s or 2m", s)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a whole number of seconds", s)
	}
	if d/time.Second > math.MaxInt32 || d < -math.MaxInt32*time.Second {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return Seconds(d / time.Second), nil
}

// UnmarshalJSON accepts a number or a string.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var n int32
	if err := json.Unmarshal(b, &n); err == nil {
		*s = Seconds(n)
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("%s is not a number of seconds or a duration like \"30s\"", b)
	}
	v, err := ParseSeconds(str)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Int32 returns s as the API's int32 seconds.
func (s Seconds) Int32() int32 { return int32(s) }

// String implements pflag.Value.
func (s *Seconds) String() string {
	if s == nil {
		return ""
	}
	return strconv.Itoa(int(*s))
}

// Set implements pflag.Value.
func (s *Seconds) Set(v string) error {
	n, err := ParseSeconds(v)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// Type implements pflag.Value.
func (s *Seconds) Type() string { return "seconds" }
