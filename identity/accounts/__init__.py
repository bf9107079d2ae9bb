"""One global account per person, shared by every portal the person belongs to."""
