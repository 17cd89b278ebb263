package exec

import "github.com/apache/arrow-go/v18/arrow/memory"

var memoryAllocator = memory.DefaultAllocator
