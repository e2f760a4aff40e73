module kfsprobe

go 1.22
