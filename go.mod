module github.com/dingtalk-llm/fcrobot

go 1.24

require (
	github.com/alibabacloud-go/darabonba-openapi/v2 v2.1.13 // indirect
	github.com/caarlos0/env/v10 v10.0.0 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	github.com/sashabaranov/go-openai v1.43.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/text v0.16.0 // indirect
)
