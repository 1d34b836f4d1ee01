"""What an agent keeps on disk under `-data-dir`: the files and the serf snapshot in them."""
