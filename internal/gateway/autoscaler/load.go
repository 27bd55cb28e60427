package autoscaler

// Load is one replica's demand for one function.
type Load struct {
	InFlight int `json:"inFlight"`
	Waiting  int `json:"waiting"`
	// IdleSeconds is the time since a call last started waiting or ended
	// here; 0 while one is in flight or waiting.
	IdleSeconds float64 `json:"idleSeconds"`
}

// Report is one replica's load by function ("namespace/name"): the JSON its
// admin endpoint LoadPath answers.
type Report struct {
	Replica   string          `json:"replica"`
	Functions map[string]Load `json:"functions"`
}

// LoadPath is where each gateway replica reports its Report on its admin
// port.
const LoadPath = "/internal/load"
